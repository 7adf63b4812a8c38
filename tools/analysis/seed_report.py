"""A static HTML page of an evaluation, or comparing several on the same images: summary,
per-class IoU bars, precision / recall per class, confusion matrices, the per-class table, and
the worst and best images (image, GT, each run's prediction side by side). It opens from disk,
offline (the pictures are files beside it).

    python tools/analysis/seed_report.py RUN [RUN ...] [--names A B ...] [--out DIR] [--images N]

A RUN is the folder of an evaluation (metrics.json + per_image.csv): a pipeline's eval_seeds or
test step, tools/eval_seeds.py's --out-dir, generate_seeds.py's <work_dir>/seed_eval,
tools/test.py's --metrics-dir. The page is DIR/index.html (default: <first RUN>/report).
"""
import argparse
import os.path as osp
import sys

from wsss.analysis.report import build_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', metavar='RUN', help='evaluation folders')
    parser.add_argument('--names', nargs='+', help='a display name per run')
    parser.add_argument('--out', help='folder of the page (default <first RUN>/report)')
    parser.add_argument('--images', type=int, default=8,
                        help='images per gallery section (worst, best, largest changes)')
    parser.add_argument('--title', help='the page title')
    args = parser.parse_args()
    first = args.runs[0]
    out = args.out or osp.join(osp.dirname(first) if first.endswith('.json') else first,
                               'report')
    try:
        page = build_report(args.runs, out, args.names, args.images, args.title)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'report: {page}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
