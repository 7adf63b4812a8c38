"""The per-class table of several evaluations (seeds or stage two) on the same dataset, with
each run's difference to the first, then mIoU, aAcc and mAcc: as text on the console, and as
CSV and Markdown (for papers) on request.

    python tools/analysis/compare_runs.py RUN RUN [...] [--names A B ...]
        [--metric iou|precision|recall] [--csv FILE] [--markdown FILE]

A RUN is an evaluation's folder (metrics.json) or its metrics.json.
"""
import argparse
import sys

from wsss.analysis.compare import as_csv, as_markdown, as_text, compare_runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', metavar='RUN', help='evaluation folders')
    parser.add_argument('--names', nargs='+', help='a column name per run')
    parser.add_argument('--metric', default='iou', choices=['iou', 'precision', 'recall'])
    parser.add_argument('--csv', metavar='FILE', help='also write the table as CSV')
    parser.add_argument('--markdown', metavar='FILE', help='also write the table as Markdown')
    args = parser.parse_args()
    try:
        rows = compare_runs(args.runs, args.names, args.metric)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(as_text(rows))
    for path, text in ((args.csv, as_csv), (args.markdown, as_markdown)):
        if path:
            with open(path, 'w', newline='') as f:
                f.write(text(rows))
            print(f'written: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
