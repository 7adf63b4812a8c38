"""Training curves from mmengine's JSON logs, as mmseg's analyze_logs.py: loss, learning rate
and validation mIoU (any logged key) against the iteration, a line per run.

    python tools/analysis/plot_logs.py RUN [RUN ...] [--keys loss lr mIoU] [--out curves.png]

A RUN is a training work dir (every <timestamp>/vis_data/<timestamp>.json in it, oldest first,
so a resumed run is one curve) or one such JSON file.
"""
import argparse
import sys

from wsss.analysis.logs import plot_logs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', metavar='RUN', help='work dirs or JSON logs')
    parser.add_argument('--keys', nargs='+', default=['loss', 'lr', 'mIoU'],
                        help='logged keys to plot (default: loss lr mIoU)')
    parser.add_argument('--names', nargs='+', default=(), help='a legend entry per run')
    parser.add_argument('--out', default='curves.png', help='the picture (PNG, PDF, SVG)')
    args = parser.parse_args()
    try:
        keys = plot_logs(args.runs, args.keys, args.out, args.names)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{", ".join(keys)}: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
