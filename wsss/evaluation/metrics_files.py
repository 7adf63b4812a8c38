"""The files every evaluation leaves in its folder (a *run*, for the report and comparison tools):

- ``metrics.json``: mIoU, aAcc, mAcc (percent, as mmseg's), per class IoU, precision, recall
  and pixel counts, the confusion matrix (rows GT, columns prediction), the number of images,
  what was evaluated (``kind``: ``seeds`` or ``stage_two``) and the folder of its predictions
  (``<img_name>.png``), when they were kept;
- ``per_image.csv``: one row per image, in the dataset's order: its name, its mIoU and the IoU
  (percent) of each class in its GT or its prediction (empty for the others), then the paths
  of the image and its GT.

Both grow with the split: the JSON with the square of the class count, the CSV with images ×
classes (COCO train: 82,783 rows of 81 classes, about 20 MB).
"""
import csv
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..io import atomic_write
from .seed_eval import ImageScore, SegStats

METRICS_FILE = 'metrics.json'
PER_IMAGE_FILE = 'per_image.csv'
PATH_COLUMNS = ('img_path', 'gt_path')


def _replace_atomically(path: str, write) -> None:
    with atomic_write(path, 'w', newline='') as f:
        write(f)


def write_metrics(out_dir: str, stats: SegStats, class_names: Sequence[str], kind: str,
                  predictions: Optional[str] = None,
                  image_paths: Optional[Dict[str, Tuple[str, str]]] = None,
                  **extra) -> dict:
    """Write ``metrics.json`` and ``per_image.csv`` (from ``stats.images``) into ``out_dir``;
    ``image_paths`` maps an image name to (image, GT) paths. Returns the JSON's numbers."""
    numbers = dict(stats.summary(class_names), kind=kind, num_images=len(stats.images),
                   predictions=predictions, classes=list(class_names), **extra)
    _replace_atomically(osp.join(out_dir, METRICS_FILE),
                        lambda f: json.dump(numbers, f, indent=1))
    _replace_atomically(osp.join(out_dir, PER_IMAGE_FILE),
                        lambda f: _write_rows(f, stats.images, class_names, image_paths or {}))
    return numbers


def _write_rows(f, images: Sequence[ImageScore], class_names: Sequence[str],
                image_paths: Dict[str, Tuple[str, str]]) -> None:
    writer = csv.writer(f)
    writer.writerow(['image', 'mIoU', *class_names, *PATH_COLUMNS])
    for score in images:
        ious = [''] * len(class_names)
        for c, iou in zip(score.class_ids, score.ious):
            ious[c] = f'{100 * iou:.2f}'
        miou = '' if math.isnan(score.miou) else f'{100 * score.miou:.2f}'
        writer.writerow([score.name, miou, *ious, *image_paths.get(score.name, ('', ''))])


def run_files(run: str) -> Tuple[str, str]:
    """(metrics.json, per_image.csv) of a run: its folder or its metrics.json."""
    folder = osp.dirname(run) if run.endswith('.json') else run
    metrics = run if run.endswith('.json') else osp.join(folder, METRICS_FILE)
    if not osp.isfile(metrics):
        raise FileNotFoundError(f'{metrics} not found: a run is the folder of an evaluation '
                                '(tools/eval_seeds.py, tools/test.py, a pipeline step)')
    return metrics, osp.join(folder, PER_IMAGE_FILE)


def read_metrics(run: str) -> dict:
    """The numbers of a run's ``metrics.json``."""
    metrics, _ = run_files(run)
    with open(metrics) as f:
        numbers = json.load(f)
    if 'per_class' not in numbers or 'mIoU' not in numbers:
        raise ValueError(f'{metrics} has no per-class numbers: not a wsss metrics file')
    return numbers


def read_per_image(run: str) -> List[dict]:
    """The rows of a run's ``per_image.csv``: ``image``, ``mIoU`` (float, NaN when empty),
    ``ious`` ({class name: IoU}, the image's classes only), ``img_path``, ``gt_path``."""
    _, path = run_files(run)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found beside {METRICS_FILE}')
    rows = []
    with open(path, newline='') as f:
        for row in csv.DictReader(f):
            image, miou = row.pop('image'), row.pop('mIoU')
            paths = {k: row.pop(k, '') for k in PATH_COLUMNS}
            rows.append(dict(image=image, mIoU=float(miou) if miou else float('nan'),
                             ious={k: float(v) for k, v in row.items() if v}, **paths))
    return rows


def read_image_names(run: str) -> List[str]:
    """The image names of a run's ``per_image.csv``, in its order."""
    _, path = run_files(run)
    with open(path, newline='') as f:
        return [row[0] for row in csv.reader(f)][1:]


def confusion_matrix(numbers: dict) -> np.ndarray:
    """The confusion matrix of a metrics.json (rows GT, columns prediction), as int64."""
    return np.asarray(numbers['confusion'], np.int64)


def dataset_image_paths(infos: Sequence[dict]) -> Dict[str, Tuple[str, str]]:
    """{img_name: (image path, GT path)} of a dataset's data infos, for :func:`write_metrics`."""
    return {i['img_name']: (i['img_path'], i.get('seg_map_path') or '') for i in infos}
