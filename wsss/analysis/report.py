"""A static HTML page of one evaluation, or of several on the same images (``seed_report.py``).

The page (``<out_dir>/index.html``, pictures under ``<out_dir>/img/``, nothing else: it opens
from disk, offline) holds the summary table, per-class IoU bars, precision and recall per
class, each run's confusion matrix, the per-class table and a gallery of the worst and best
images (and, for several runs, those that changed most): image, GT and each run's prediction
side by side. Plots are matplotlib's. Time and memory grow with the split through the per-image
CSVs (read once) and with classes² through the confusion matrices; the gallery reads
3 × ``images`` images per run.
"""
import html
import math
import os
import os.path as osp
from functools import cached_property
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..evaluation.metrics_files import (
    confusion_matrix,
    read_image_names,
    read_metrics,
    read_per_image,
)
from ..io.seeds import read_label_map, voc_palette

THUMB_HEIGHT = 120
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.up { color: #176d2b; } td.down { color: #b3261e; }
figure { display: inline-block; margin: 0 6px 6px 0; vertical-align: top; }
figcaption { font-size: 12px; text-align: center; }
.swatch { display: inline-block; width: 12px; height: 12px; margin: 0 3px 0 10px;
          border: 1px solid #888; vertical-align: middle; }
img.plot { max-width: 100%; }
"""


class Run:
    """One evaluation's numbers and per-image rows, under a display name."""

    def __init__(self, path: str, name: str) -> None:
        self.path, self.name = path, name
        self.numbers = read_metrics(path)
        self.classes: List[str] = self.numbers.get('classes') or list(self.numbers['per_class'])

    @cached_property
    def rows(self) -> Dict[str, dict]:
        """The per-image rows by image name (read on first use: tables do not need them)."""
        return {row['image']: row for row in read_per_image(self.path)}

    def per_class(self, key: str) -> np.ndarray:
        """A per-class number (``iou``, ``precision``, ``recall``) in percent, NaN for none."""
        return np.array([np.nan if v[key] is None else v[key]
                         for v in self.numbers['per_class'].values()], np.float64)

    def prediction(self, image: str) -> Optional[str]:
        folder = self.numbers.get('predictions')
        path = osp.join(folder, image + '.png') if folder else None
        return path if path and osp.isfile(path) else None


def run_names(paths: Sequence[str]) -> List[str]:
    """Display names: each run folder's name, with its parent's where two would be equal."""
    folders = [osp.normpath(osp.dirname(p) if p.endswith('.json') else p) for p in paths]
    names = [osp.basename(f) for f in folders]
    if len(set(names)) < len(names):
        names = [osp.join(osp.basename(osp.dirname(f)), osp.basename(f)) for f in folders]
    return names


def load_runs(paths: Sequence[str], names: Optional[Sequence[str]] = None) -> List[Run]:
    """The runs, checked to share their classes (ValueError naming the first that differs)."""
    names = list(names) if names else run_names(paths)
    if len(names) != len(paths):
        raise ValueError(f'{len(names)} names for {len(paths)} runs')
    runs = [Run(p, n) for p, n in zip(paths, names)]
    for run in runs[1:]:
        if run.classes != runs[0].classes:
            raise ValueError(f'{run.path} has other classes than {runs[0].path}: runs to compare '
                             'must come from the same dataset')
    return runs


def _bars(ax, classes: Sequence[str], values: Sequence[np.ndarray], names: Sequence[str],
          title: str) -> None:
    height = 0.8 / len(values)
    y = np.arange(len(classes))
    for i, (v, name) in enumerate(zip(values, names)):
        ax.barh(y + i * height, np.nan_to_num(v), height, label=name)
    ax.set_yticks(y + 0.4 - height / 2, classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel('%')
    ax.set_title(title)
    ax.grid(axis='x', alpha=0.3)
    if len(values) > 1:
        ax.legend(fontsize=8, loc='lower right')


def present_classes(runs: Sequence[Run]) -> np.ndarray:
    """The ids of the classes some run has an IoU for (in a GT or predicted): the others are
    left out of plots and tables, as out of the mIoU."""
    return np.flatnonzero(~np.all([np.isnan(r.per_class('iou')) for r in runs], axis=0))


def _bar_figure(runs: Sequence[Run], keys: Sequence[Tuple[str, str]], path: str) -> None:
    present = present_classes(runs)
    classes = [runs[0].classes[c] for c in present]
    fig = Figure(figsize=(4.5 * len(keys) + 1.5, 1 + 0.12 * len(classes) * (len(runs) + 1)))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, (key, title) in zip(axes, keys):
        _bars(ax, classes, [r.per_class(key)[present] for r in runs], [r.name for r in runs],
              title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def _confusion_figure(run: Run, present: np.ndarray, path: str) -> None:
    """Rows GT, columns prediction, each row divided by its GT pixels (a row sums to its recall
    plus its errors), over the ``present`` classes; seeds' unlabeled pixels as a last column
    where there are any."""
    confusion = confusion_matrix(run.numbers)[np.ix_(present, present)].astype(np.float64)
    classes = [run.classes[c] for c in present]
    columns = list(classes)
    unlabeled = np.array([v.get('unlabeled_pixels', 0)
                          for v in run.numbers['per_class'].values()], np.float64)[present]
    if unlabeled.any():
        confusion = np.concatenate([confusion, unlabeled[:, None]], axis=1)
        columns.append('(unlabeled)')
    with np.errstate(invalid='ignore', divide='ignore'):
        rows = 100 * confusion / confusion.sum(axis=1, keepdims=True)
    size = 2 + 0.22 * len(columns)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    image = ax.imshow(rows, cmap='viridis', vmin=0, vmax=100)
    font = 8 if len(columns) <= 30 else 5
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=font)
    ax.set_yticks(range(len(classes)), classes, fontsize=font)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    ax.set_title(f'{run.name}: % of each GT class')
    if len(columns) <= 30:
        for (g, p), v in np.ndenumerate(rows):
            if v >= 0.5:
                ax.text(p, g, f'{v:.0f}', ha='center', va='center', fontsize=6,
                        color='black' if v > 60 else 'white')
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def _colours() -> np.ndarray:
    colours = np.array(voc_palette(256), np.uint8)
    colours[255] = 255
    return colours


def _thumb_size(width: int, height: int) -> Tuple[int, int]:
    return max(1, round(width * THUMB_HEIGHT / height)), THUMB_HEIGHT


def _save_image_thumb(src: str, dst: str) -> None:
    with Image.open(src) as img:
        img = img.convert('RGB')
        img.resize(_thumb_size(*img.size), Image.Resampling.BILINEAR).save(dst)


def _save_label_thumb(src: str, dst: str) -> None:
    labels = _colours()[read_label_map(src)]
    img = Image.fromarray(labels)
    img.resize(_thumb_size(*img.size), Image.Resampling.NEAREST).save(dst)


def _pick_gallery(runs: Sequence[Run], images: Sequence[str],
                  count: int) -> List[Tuple[str, List[str]]]:
    """(title, image names) sections: the first run's worst and best images, and for several
    runs those whose mIoU changed most from the first run to the last."""
    first = runs[0].rows
    scored = sorted((i for i in images if not math.isnan(first[i]['mIoU'])),
                    key=lambda i: (first[i]['mIoU'], i))
    worst = scored[:count]
    best = [i for i in reversed(scored) if i not in worst][:count]
    sections = [(f'worst images ({runs[0].name})', worst), (f'best images ({runs[0].name})', best)]
    if len(runs) > 1:
        last = runs[-1].rows

        def change(i):
            return abs(np.nan_to_num(last[i]['mIoU']) - np.nan_to_num(first[i]['mIoU']))

        changed = sorted(images, key=lambda i: (-change(i), i))[:count]
        sections.append((f'largest changes, {runs[0].name} to {runs[-1].name}', changed))
    return sections


def _gallery_row(runs: Sequence[Run], image: str, img_dir: str, index: int) -> str:
    row = runs[0].rows[image]
    cells = []
    for label, src, thumb in (('image', row['img_path'], _save_image_thumb),
                              ('ground truth', row['gt_path'], _save_label_thumb)):
        if src and osp.isfile(src):
            name = f'g{index}_{"img" if label == "image" else "gt"}.png'
            thumb(src, osp.join(img_dir, name))
            cells.append(_figure(f'img/{name}', label))
    for k, run in enumerate(runs):
        miou = run.rows[image]['mIoU']
        caption = f'{run.name}: mIoU {miou:.1f}' if not math.isnan(miou) else run.name
        pred = run.prediction(image)
        if pred is None:
            cells.append(f'<figure><figcaption>{html.escape(caption)}<br>(predictions not '
                         'kept)</figcaption></figure>')
            continue
        name = f'g{index}_run{k}.png'
        _save_label_thumb(pred, osp.join(img_dir, name))
        cells.append(_figure(f'img/{name}', caption))
    return f'<div><h4>{html.escape(image)}</h4>{"".join(cells)}</div>'


def _figure(src: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def _fmt(v: Optional[float]) -> str:
    return '–' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{v:.2f}'


def _diff_cell(v: float, ref: float) -> str:
    if math.isnan(v) or math.isnan(ref):
        return '<td>–</td>'
    d = v - ref
    return f'<td class="{"up" if d > 0 else "down" if d < 0 else ""}">{d:+.2f}</td>'


def _summary_table(runs: Sequence[Run], images: int) -> str:
    head = ['run', 'what', 'images', 'mIoU', 'aAcc', 'mAcc'] + (['Δ mIoU'] if len(runs) > 1
                                                              else []) + ['folder']
    rows = []
    ref = runs[0].numbers['mIoU']
    for run in runs:
        n = run.numbers
        cells = [html.escape(run.name), n.get('kind', ''), str(n.get('num_images', '')),
                 _fmt(n['mIoU']), _fmt(n.get('aAcc')), _fmt(n.get('mAcc'))]
        row = ''.join(f'<td>{c}</td>' for c in cells)
        if len(runs) > 1:
            row += _diff_cell(n['mIoU'], ref)
        rows.append(f'<tr>{row}<td>{html.escape(run.path)}</td></tr>')
    note = (f'<p>{images} images in common.</p>' if len(runs) > 1 else '')
    return (note + '<table><tr>' + ''.join(f'<th>{h}</th>' for h in head) + '</tr>' +
            ''.join(rows) + '</table>')


def _class_table(runs: Sequence[Run]) -> str:
    head = ['class'] + [f'IoU {r.name}' for r in runs] + (
        [f'Δ {r.name}' for r in runs[1:]]) + ['precision ' + r.name for r in runs] + [
        'recall ' + r.name for r in runs] + ['GT pixels']
    ious = [r.per_class('iou') for r in runs]
    precision = [r.per_class('precision') for r in runs]
    recall = [r.per_class('recall') for r in runs]
    colours = _colours()
    rows = []
    for c in present_classes(runs):
        name = runs[0].classes[c]
        r, g, b = colours[c]
        swatch = f'<span class="swatch" style="background: rgb({r},{g},{b})"></span>'
        cells = [f'<td>{swatch}{html.escape(name)}</td>']
        cells += [f'<td>{_fmt(v[c])}</td>' for v in ious]
        cells += [_diff_cell(v[c], ious[0][c]) for v in ious[1:]]
        cells += [f'<td>{_fmt(v[c])}</td>' for v in precision + recall]
        gt = list(runs[0].numbers['per_class'].values())[c].get('gt_pixels', '')
        cells.append(f'<td>{gt}</td>')
        rows.append('<tr>' + ''.join(cells) + '</tr>')
    return ('<table><tr>' + ''.join(f'<th>{html.escape(h)}</th>' for h in head) + '</tr>' +
            ''.join(rows) + '</table>')


def build_report(paths: Sequence[str], out_dir: str, names: Optional[Sequence[str]] = None,
                 images: int = 8, title: Optional[str] = None) -> str:
    """Write the page of the runs at ``paths`` (evaluation folders or their metrics.json) into
    ``out_dir``; ``images`` per gallery section. Returns the page's path."""
    runs = load_runs(paths, names)
    common = [i for i in runs[0].rows if all(i in r.rows for r in runs[1:])]
    if not common:
        raise ValueError(f'the runs {", ".join(paths)} share no image: compare runs on the '
                         'same images')
    img_dir = osp.join(out_dir, 'img')
    os.makedirs(img_dir, exist_ok=True)
    _bar_figure(runs, [('iou', 'IoU per class')], osp.join(img_dir, 'iou.png'))
    _bar_figure(runs, [('precision', 'precision per class'), ('recall', 'recall per class')],
                osp.join(img_dir, 'precision_recall.png'))
    confusions = []
    for k, run in enumerate(runs):
        _confusion_figure(run, present_classes(runs), osp.join(img_dir, f'confusion_{k}.png'))
        confusions.append(f'<img class="plot" src="img/confusion_{k}.png" '
                          f'alt="confusion matrix of {html.escape(run.name)}">')
    gallery = []
    index = 0
    for section, chosen in _pick_gallery(runs, common, images):
        gallery.append(f'<h3>{html.escape(section)}</h3>')
        for image in chosen:
            gallery.append(_gallery_row(runs, image, img_dir, index))
            index += 1
    title = title or 'wsss report: ' + ', '.join(r.name for r in runs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Summary</h2>{_summary_table(runs, len(common))}
<h2>IoU per class</h2><img class="plot" src="img/iou.png" alt="IoU per class">
<h2>Precision and recall per class</h2>
<img class="plot" src="img/precision_recall.png" alt="precision and recall per class">
<h2>Confusion matrices</h2>{''.join(confusions)}
<h2>Per class</h2>{_class_table(runs)}
<h2>Images</h2><p>Image, ground truth (white: ignored), then each run's prediction; mIoU over
the classes in the image's GT or prediction.</p>{''.join(gallery)}
</body></html>
"""
    path = osp.join(out_dir, 'index.html')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(page)
    return path


def pipeline_reports(work_dir: str, records: Sequence[dict]) -> List[str]:
    """A page per group of a pipeline's evaluations (eval_seeds and test steps) on the same
    images, comparing them (e.g. coarse and fine seeds; single-scale and multi-scale tests):
    ``<work_dir>/report/<seeds|stage_two>/index.html``. Returns the pages."""
    groups: Dict[Tuple[str, frozenset], List[dict]] = {}
    for record in records:
        output = record.get('output') or ''
        if record['tool'] not in ('eval_seeds', 'test') or not osp.isfile(output):
            continue
        kind = read_metrics(output).get('kind', record['tool'])
        images = frozenset(read_image_names(output))
        groups.setdefault((kind, images), []).append(record)
    pages = []
    for k, ((kind, _), members) in enumerate(groups.items()):
        name = kind if sum(key[0] == kind for key in groups) == 1 else f'{kind}_{k}'
        pages.append(build_report([r['output'] for r in members],
                                  osp.join(work_dir, 'report', name),
                                  [r['step'] for r in members]))
    return pages
