"""Per-class numbers of several evaluations side by side, with their differences to the first
(``tools/analysis/compare_runs.py``): as text, CSV or Markdown (for papers)."""
import csv
import io
import math
from typing import List, Optional, Sequence

from .report import Run, load_runs

SUMMARY_KEYS = ('mIoU', 'aAcc', 'mAcc')


def compare_rows(runs: Sequence[Run], metric: str = 'iou') -> List[List[str]]:
    """Header and rows: each class's ``metric`` (iou, precision, recall) per run in percent,
    then each later run's difference to the first; then the mIoU, aAcc and mAcc rows. Empty
    cells where a run has no number (a class neither in the GT nor predicted)."""
    header = ['class'] + [r.name for r in runs] + [f'{r.name} - {runs[0].name}' for r in runs[1:]]
    rows = [header]
    values = [r.per_class(metric) for r in runs]
    for c, name in enumerate(runs[0].classes):
        rows.append([name] + _cells([v[c] for v in values]))
    for key in SUMMARY_KEYS:
        rows.append([key] + _cells([_num(r.numbers.get(key)) for r in runs]))
    return rows


def _num(v: Optional[float]) -> float:
    return float('nan') if v is None else float(v)


def _cells(values: Sequence[float]) -> List[str]:
    def fmt(v: float, sign: str = '') -> str:
        return '' if math.isnan(v) else f'{v:{sign}.2f}'

    return [fmt(v) for v in values] + [fmt(v - values[0], '+') for v in values[1:]]


def as_text(rows: List[List[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [' | '.join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    return '\n'.join(lines)


def as_csv(rows: List[List[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator='\n').writerows(rows)
    return out.getvalue()


def as_markdown(rows: List[List[str]]) -> str:
    def line(row):
        return '| ' + ' | '.join(c.replace('|', '\\|') for c in row) + ' |'

    align = ['---'] + ['---:'] * (len(rows[0]) - 1)
    return '\n'.join([line(rows[0]), '| ' + ' | '.join(align) + ' |'] +
                     [line(r) for r in rows[1:]]) + '\n'


def compare_runs(paths: Sequence[str], names: Optional[Sequence[str]] = None,
                 metric: str = 'iou') -> List[List[str]]:
    """:func:`compare_rows` of the runs at ``paths`` (folders or metrics.json files)."""
    if metric not in ('iou', 'precision', 'recall'):
        raise ValueError(f'metric must be iou, precision or recall, got {metric!r}')
    return compare_rows(load_runs(paths, names), metric)
