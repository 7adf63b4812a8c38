"""Training curves from mmengine's JSON logs (``tools/analysis/plot_logs.py``), as mmseg's
``analyze_logs.py``: one panel per key (loss, lr, mIoU, ...) against the iteration, one line
per run."""
import glob
import json
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from matplotlib.figure import Figure

Series = Dict[str, Tuple[List[float], List[float]]]  # key -> (iterations, values)


def log_files(path: str) -> List[str]:
    """A JSON log itself, or every one of a work dir (``<timestamp>/vis_data/<timestamp>.json``,
    oldest first: a resumed run's logs continue each other)."""
    if osp.isfile(path):
        return [path]
    files = sorted(f for f in glob.glob(osp.join(path, '*', 'vis_data', '*.json'))
                   if osp.basename(f) != 'scalars.json')
    if not files:
        raise FileNotFoundError(f'no JSON log under {path} (<timestamp>/vis_data/<timestamp>.json):'
                                ' give a training work dir or a log file')
    return files


def read_log(path: str) -> Series:
    """Every numeric key of the log lines of ``path`` (a file or a work dir) with the iterations
    it was logged at (``step``); a key logged again at an iteration (a resumed run) keeps the
    last value."""
    series: Dict[str, Dict[float, float]] = {}
    for file in log_files(path):
        with open(file) as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{file}, line {number}: not JSON ({e})') from e
                step = record.get('step', record.get('iter'))
                for key, value in record.items():
                    if key not in ('step', 'iter', 'epoch') and isinstance(value, (int, float)):
                        series.setdefault(key, {})[step] = value
    return {key: (sorted(points), [points[s] for s in sorted(points)])
            for key, points in series.items()}


def plot_logs(paths: Sequence[str], keys: Sequence[str], out: str,
              names: Sequence[str] = ()) -> List[str]:
    """One panel per key in ``keys`` that some log holds, a line per log; saved to ``out``.
    Returns the keys plotted; ValueError when none is in any log."""
    logs = [read_log(p) for p in paths]
    names = list(names) or [osp.normpath(p) for p in paths]
    present = [k for k in keys if any(k in log for log in logs)]
    if not present:
        found = sorted({k for log in logs for k in log})
        raise ValueError(f'none of {list(keys)} is in the logs; they hold {found}')
    fig = Figure(figsize=(5 * len(present), 3.6))
    for ax, key in zip(fig.subplots(1, len(present), squeeze=False)[0], present):
        for log, name in zip(logs, names):
            if key in log:
                steps, values = log[key]
                ax.plot(steps, values, marker='o' if len(steps) < 20 else None, label=name)
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        if key == 'lr':
            ax.ticklabel_format(axis='y', style='sci', scilimits=(-2, 2))
    fig.axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return present
