"""Seed quality against the ground truth: a confusion-matrix accumulator, the evaluation of a
folder of seed PNGs, and the search for the background power of CAM seeds.

A seed pixel of 255 ("no label") predicts nothing: it is a false negative of its GT class (it
lowers that class's recall and IoU) and a false positive of no class. Counting it as background
instead would reward a seeder for abstaining on background pixels; ignoring it would reward a
seeder for abstaining wherever it is unsure. GT pixels of 255 are ignored.
"""
import multiprocessing
import os.path as osp
from functools import partial
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

import numpy as np
import torch
from prettytable import PrettyTable

from ..io import remake_hint
from ..io.cams import cam_path, load_cams
from ..io.sam_masks import image_masks
from ..io.seeds import IGNORE_INDEX, SeedError, check_label_map, read_label_map, seed_path
from ..models.clip_es.cam import cams_to_seed
from ..models.seeders.sams import sams_seed
from ..utils.progress import Progress
from ..utils.workers import single_thread_worker

Sample = Tuple[str, str]  # (img_name, seg_map_path)
T = TypeVar('T')
MAX_CHUNK = 64  # images per worker task: enough to amortise the transfer, small for a smooth bar


class ImageScore(NamedTuple):
    """One image's IoU per class of the classes in its GT or its prediction (the others have
    none); its mIoU is their mean, the dataset mIoU's rule on one image."""
    name: str
    class_ids: np.ndarray  # (k,) int16
    ious: np.ndarray  # (k,) float32

    @property
    def miou(self) -> float:
        return float(self.ious.mean()) if len(self.ious) else float('nan')


def image_score(name: str, counts: np.ndarray) -> ImageScore:
    """The :class:`ImageScore` of one image's counts (C, C + 1), unlabeled pixels last."""
    n = counts.shape[0]
    tp = np.diag(counts[:, :n])
    union = counts.sum(axis=1) + counts[:, :n].sum(axis=0) - tp
    present = np.flatnonzero(union)
    return ImageScore(name, present.astype(np.int16),
                      (tp[present] / union[present]).astype(np.float32))


def image_counts(pred: np.ndarray, gt: np.ndarray, n: int) -> np.ndarray:
    """Counts (n, n + 1) of one image: ``[g, p]`` pixels of GT class g predicted as p, column
    n those left at 255; GT pixels of 255 count nowhere. Bad shapes or values: ValueError."""
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} differs from GT shape {gt.shape}')
    valid = gt != IGNORE_INDEX
    g = gt[valid].astype(np.int64)
    p = pred[valid].astype(np.int64)
    if g.size and g.max() >= n:
        raise ValueError(f'GT values {sorted(set(np.unique(g[g >= n]).tolist()))} are '
                         f'outside 0..{n - 1} and {IGNORE_INDEX}')
    bad = (p >= n) & (p != IGNORE_INDEX)
    if bad.any():
        raise ValueError(f'predicted values {sorted(set(np.unique(p[bad]).tolist()))} are '
                         f'outside 0..{n - 1} and {IGNORE_INDEX}')
    # column n collects the unlabeled pixels, so one bincount counts everything
    p[p == IGNORE_INDEX] = n
    return np.bincount(g * (n + 1) + p, minlength=n * (n + 1)).reshape(n, n + 1)


class SegStats:
    """Confusion matrix of ``num_classes`` classes (background included) accumulated over images.

    ``confusion[g, p]`` counts pixels of GT class g predicted as p; ``unlabeled[g]`` counts pixels
    of GT class g the seed left at 255 (see the module docstring). ``images`` holds the
    :class:`ImageScore` of every image added with a name (a few hundred bytes an image).
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        self.unlabeled = np.zeros(num_classes, np.int64)
        self.images: List[ImageScore] = []

    def update(self, pred: np.ndarray, gt: np.ndarray, name: Optional[str] = None) -> None:
        """Add one image: ``pred`` and ``gt`` are uint8 label maps of the same shape; with
        ``name``, also its :class:`ImageScore`."""
        self.add_counts(image_counts(pred, gt, self.num_classes), name)

    def add_counts(self, counts: np.ndarray, name: Optional[str] = None) -> None:
        """Add one image's counts (C, C + 1) of :func:`image_counts`."""
        n = self.num_classes
        self.confusion += counts[:, :n]
        self.unlabeled += counts[:, n]
        if name is not None:
            self.images.append(image_score(name, counts))

    def merge(self, other: 'SegStats') -> 'SegStats':
        """Add the counts of ``other`` (e.g. a worker's partial stats); returns self."""
        if other.num_classes != self.num_classes:
            raise ValueError(f'cannot merge stats of {other.num_classes} classes into '
                             f'{self.num_classes}')
        self.confusion += other.confusion
        self.unlabeled += other.unlabeled
        self.images += other.images
        return self

    @property
    def true_positives(self) -> np.ndarray:
        return np.diag(self.confusion)

    @property
    def gt_pixels(self) -> np.ndarray:
        return self.confusion.sum(axis=1) + self.unlabeled

    @property
    def pred_pixels(self) -> np.ndarray:
        return self.confusion.sum(axis=0)

    @staticmethod
    def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(divide='ignore', invalid='ignore'):
            return num / den

    @property
    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for a class neither in the GT nor predicted."""
        tp = self.true_positives
        return self._ratio(tp, self.gt_pixels + self.pred_pixels - tp)

    @property
    def precision(self) -> np.ndarray:
        """Per-class precision; NaN for a class never predicted."""
        return self._ratio(self.true_positives, self.pred_pixels)

    @property
    def recall(self) -> np.ndarray:
        """Per-class recall; NaN for a class absent from the GT."""
        return self._ratio(self.true_positives, self.gt_pixels)

    @property
    def miou(self) -> float:
        """Mean IoU over the classes present in the GT or predicted (NaN classes skipped, as in
        mmseg); NaN when nothing was counted."""
        iou = self.iou
        return float(np.nanmean(iou)) if not np.isnan(iou).all() else float('nan')

    @property
    def accuracy(self) -> float:
        """Overall pixel accuracy over the GT pixels that are not ignored."""
        total = self.gt_pixels.sum()
        return float(self.true_positives.sum() / total) if total else float('nan')

    @property
    def mean_accuracy(self) -> float:
        """Mean of the per-class recalls over the classes in the GT (mmseg's mAcc)."""
        recall = self.recall
        return float(np.nanmean(recall)) if not np.isnan(recall).all() else float('nan')

    def summary(self, class_names: Sequence[str]) -> dict:
        """JSON-ready numbers, in percent as mmseg's (None for NaN): mIoU, aAcc, mAcc, and per
        class IoU, precision, recall and the pixel counts (GT, predicted, true positive, left
        unlabeled), then the confusion matrix (rows GT, columns prediction)."""

        def pct(x: float) -> Optional[float]:
            return None if np.isnan(x) else 100 * float(x)

        per_class = {
            name: dict(iou=pct(i), precision=pct(p), recall=pct(r), gt_pixels=int(g),
                       pred_pixels=int(pr), tp_pixels=int(tp), unlabeled_pixels=int(u))
            for name, i, p, r, g, pr, tp, u in zip(
                class_names, self.iou, self.precision, self.recall, self.gt_pixels,
                self.pred_pixels, self.true_positives, self.unlabeled)}
        return dict(mIoU=pct(self.miou), aAcc=pct(self.accuracy), mAcc=pct(self.mean_accuracy),
                    num_classes=self.num_classes, per_class=per_class,
                    confusion=self.confusion.tolist())


def format_table(stats: SegStats, class_names: Sequence[str]) -> str:
    """Per-class IoU / precision / recall in percent, then the mIoU and pixel accuracy lines.
    Classes that appear nowhere are left out of the table, as they are out of the mIoU."""
    table = PrettyTable(['Class', 'IoU', 'Precision', 'Recall'])
    table.align['Class'] = 'l'
    for name, iou, prec, rec in zip(class_names, stats.iou, stats.precision, stats.recall):
        if not np.isnan(iou):
            table.add_row([name, *(f'{100 * v:.2f}' if not np.isnan(v) else '-'
                                   for v in (iou, prec, rec))])
    return (f'{table.get_string()}\nmIoU: {100 * stats.miou:.2f}\n'
            f'aAcc: {100 * stats.accuracy:.2f}')


def _require_files(samples: Sequence[Sample], path_of: Callable[[str], str], what: str) -> None:
    for kind, paths in ((what, [path_of(name) for name, _ in samples]),
                        ('GT masks', [gt for _, gt in samples])):
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(f'{len(missing)} of {len(paths)} {kind} are missing, first: '
                                    f'{missing[0]}')


def _read_gt(path: str, num_classes: int) -> np.ndarray:
    gt = read_label_map(path)
    check_label_map(gt, num_classes, path)
    return gt


def _seed_stats(chunk: List[Sample], seed_dir: str, num_classes: int) -> SegStats:
    stats = SegStats(num_classes)
    for img_name, gt_path in chunk:
        gt = _read_gt(gt_path, num_classes)
        path = seed_path(seed_dir, img_name)
        try:
            seed = read_label_map(path)
        except SeedError as e:
            raise SeedError(f'{e}; {remake_hint("seeds", path)}') from e
        check_label_map(seed, num_classes, path, image_size=gt.shape)
        stats.update(seed, gt, img_name)
    return stats


def _sam_masks(mask_dir: str, img_name: str, size: Tuple[int, int]) -> Tuple[torch.Tensor, list]:
    records, masks = image_masks(mask_dir, img_name, size)
    return torch.from_numpy(masks), [r['level'] for r in records]


def _power_stats(chunk: List[Sample], cam_dir: str, num_classes: int,
                 powers: Sequence[float], mask_dir: Optional[str] = None) -> Dict[float, SegStats]:
    stats = {p: SegStats(num_classes) for p in powers}
    for img_name, gt_path in chunk:
        gt = _read_gt(gt_path, num_classes)
        path = cam_path(cam_dir, img_name)
        class_ids, cams = load_cams(path)
        if cams.shape[1:] != gt.shape:
            raise SeedError(f'{path}: CAM size {cams.shape[2]}x{cams.shape[1]} (WxH) differs from '
                            f'its GT, {gt.shape[1]}x{gt.shape[0]}')
        if ((class_ids < 1) | (class_ids >= num_classes)).any():
            raise SeedError(f'{path}: class ids {class_ids.tolist()} are outside '
                            f'1..{num_classes - 1}')
        if mask_dir is None:
            for p in powers:
                stats[p].update(cams_to_seed(cams, class_ids, bg_power=p)[0], gt, img_name)
            continue
        masks, levels = _sam_masks(mask_dir, img_name, gt.shape)
        for p in powers:
            stats[p].update(sams_seed(cams, class_ids, masks, levels, bg_power=p)[0], gt,
                            img_name)
    return stats


def _map_chunks(task: Callable[[List[Sample]], T], samples: Sequence[Sample],
                nproc: int) -> Iterator[T]:
    """``task`` over chunks of ``samples``, here (one image a chunk) or in a fork pool of
    ``nproc`` workers, with a progress bar over the images."""
    bar = Progress(len(samples), 'evaluate')
    if nproc <= 1:
        for sample in samples:
            yield task([sample])
            bar.update()
        bar.close()
        return
    size = max(1, min(MAX_CHUNK, -(-len(samples) // (4 * nproc))))
    chunks = [list(samples[i:i + size]) for i in range(0, len(samples), size)]
    with multiprocessing.get_context('fork').Pool(nproc,
                                                  initializer=single_thread_worker) as pool:
        for chunk, result in zip(chunks, pool.imap(task, chunks)):
            yield result
            bar.update(len(chunk))
    bar.close()


def evaluate_seed_dir(samples: Sequence[Sample], seed_dir: str, num_classes: int,
                      nproc: int = 1) -> SegStats:
    """Stats of the seed PNGs ``<seed_dir>/<img_name>.png`` of ``samples`` ((img_name,
    seg_map_path) pairs) against their GT. ``num_classes`` counts the background.

    Raises FileNotFoundError (how many are missing, and the first) before reading anything, and
    SeedError naming the file for a seed whose size differs from its GT or with bad values.
    """
    _require_files(samples, partial(seed_path, seed_dir), 'seeds')
    stats = SegStats(num_classes)
    task = partial(_seed_stats, seed_dir=seed_dir, num_classes=num_classes)
    for partial_stats in _map_chunks(task, samples, nproc):
        stats.merge(partial_stats)
    return stats


def evaluate_dataset_seeds(dataset, seed_dir: str, nproc: int = 1) -> SegStats:
    """:func:`evaluate_seed_dir` over every image of a wsss dataset (built, any pipeline).
    Raises ValueError, before reading any seed, when an image has no GT mask."""
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    no_gt = [info['img_name'] for info in infos if not info.get('seg_map_path')]
    if no_gt:
        raise ValueError(f'{len(no_gt)} of {len(infos)} images have no GT mask to evaluate '
                         f'seeds against, first: {no_gt[0]}')
    return evaluate_seed_dir([(info['img_name'], info['seg_map_path']) for info in infos],
                             seed_dir, len(dataset.metainfo['classes']), nproc)


def search_bg_power(samples: Sequence[Sample], cam_dir: str, num_classes: int,
                    powers: Sequence[float] = (1, 2), nproc: int = 1,
                    mask_dir: Optional[str] = None) -> Dict[float, SegStats]:
    """Stats of the seeds of every background power, against the GT: a search that reads the
    ground truth, for reports and for reproducing released settings that were picked that way.

    Each image's CAMs (``<cam_dir>/<img_name>.npz``, see :func:`wsss.io.cams.save_cams`) are read
    once and turned into one seed per power: by argmax
    (:func:`wsss.models.clip_es.cam.cams_to_seed`), or with ``mask_dir`` by SAMS over the image's
    SAM masks there (:func:`sams_seed`, which also takes the raw CAMs of ``raw_cam`` models). Errors
    as :func:`evaluate_seed_dir`.
    """
    _require_files(samples, partial(cam_path, cam_dir), 'CAM files')
    stats = {p: SegStats(num_classes) for p in powers}
    task = partial(_power_stats, cam_dir=cam_dir, num_classes=num_classes, powers=tuple(powers),
                   mask_dir=mask_dir)
    for partial_stats in _map_chunks(task, samples, nproc):
        for p in powers:
            stats[p].merge(partial_stats[p])
    return stats


def best_power(results: Dict[float, SegStats]) -> float:
    """The power of the highest mIoU (the smallest such power on a tie)."""
    return max(sorted(results), key=lambda p: np.nan_to_num(results[p].miou, nan=-1.0))
