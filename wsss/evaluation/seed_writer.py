"""Writes seeds from mmengine's test loop: the stage-one model's predictions become files."""
import logging
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.logging import print_log

from ..datasets.transforms import IMAGE_ERRORS
from ..io.cams import cam_path, save_cams
from ..io.seeds import IGNORE_INDEX, confidence_path, seed_path, write_confidence, write_label_map
from ..registry import METRICS
from ..utils.workers import BoundedPool
from ..visualization import cam_heatmaps, seed_overlay
from .job_writer import ImageJobWriter
from .rank_collect import clear_rank_files

DATA_FIELDS = ('pred_sem_seg', 'seed_confidence', 'cams', 'seeder')


@METRICS.register_module()
class SeedWriter(ImageJobWriter):
    """Writes, per image, the seed ``<seed_dir>/<img_name>.png``, its confidence
    ``<img_name>_conf.png`` and, with ``cam_dir``, its CAMs ``<cam_dir>/<img_name>.npz``; with
    ``show_dir``, pictures of the CAMs (with the clicks of a click seeder) and the seed.
    Without ``seed_dir`` it writes the CAMs only, the seeder left to a CPU job
    (tools/seed_from_cams.py, :mod:`wsss.evaluation.cam_seeding`): as float32, or float16 for a
    seeder that rounds them to float16 itself (``reads_float16``: CLIP-ES's released CRF).

    Every file is written atomically and the seed last, so an image counts as finished (for
    :class:`PendingSeedSampler`) only once all its files are complete. Each rank writes the images
    it was given; nothing is gathered but their names, through files (a rank that finishes early
    waits outside any collective: :class:`FileCollectMetric`). Seed quality is measured
    afterwards from the files (tools/eval_seeds.py), over the whole split, resumed runs included.

    The work after the model runs in a :class:`BoundedPool` of ``workers`` CPU processes, fed as
    predictions come: the seeder, when the model left it to the writer (``defer_seeding``:
    dense CRF, SAMS), PNG encoding, CAM saving and pictures. The model waits for them only when
    the pool holds ``2 * workers`` unfinished images, and at the end. ``workers=0`` does it all
    in this process; the files are the same either way.

    Images the loader could not decode, or whose per-image inputs the model could not read, are
    skipped and listed, over all ranks, in ``failed_file`` (:class:`ImageJobWriter`); with
    ``strict`` the first one stops the run.

    Args:
        workers: post-processing processes; None: the cores this rank may use that the model
            leaves free (:func:`wsss.utils.workers.spare_cores`): beside a GPU those its process
            and the loader leave;
            on a CPU-only machine those beyond torch's threads.
    """

    default_prefix = 'seeds'

    def __init__(self, seed_dir: Optional[str], cam_dir: Optional[str] = None,
                 show_dir: Optional[str] = None, save_confidence: bool = True,
                 workers: Optional[int] = None, failed_file: Optional[str] = None,
                 strict: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(failed_file, strict, collect_device=collect_device, prefix=prefix)
        if not (seed_dir or cam_dir):
            raise ValueError('SeedWriter needs a seed_dir, or a cam_dir to write CAMs only')
        self.seed_dir, self.cam_dir, self.show_dir = seed_dir, cam_dir, show_dir
        self.save_confidence = save_confidence
        clear_rank_files(self.collect_folder())
        self.pool = BoundedPool(workers)
        self.pool.start()  # before the model runs: the workers share its weights, nothing more
        # seconds spent per step, summed over the images: seeder and write in the workers,
        # wait in this process (blocked on a full pool, or at the end)
        self.seconds = dict(seeder=0.0, write=0.0, wait=0.0)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        start = time.perf_counter()
        for sample in data_samples:
            if self.skip_failed(sample):
                continue
            self.pool.submit(write_image, self.outputs(), _task(sample))
        self.add_results(self.pool.finished())
        self.seconds['wait'] += time.perf_counter() - start

    def outputs(self) -> dict:
        """Where and what :func:`write_image` writes, for a worker: the folders, whether
        confidences are saved, the class names (pictures)."""
        classes = self.dataset_meta['classes'] if self.dataset_meta else [
            str(i) for i in range(256)]
        return dict(seed_dir=self.seed_dir, cam_dir=self.cam_dir, show_dir=self.show_dir,
                    save_confidence=self.save_confidence, classes=classes)

    def add_results(self, finished: List[Tuple[str, Dict[str, float], Optional[tuple], bool]]
                    ) -> None:
        """Count :func:`write_image`'s results: each image written or failed, the seconds of
        its steps added to :attr:`seconds`."""
        for name, seconds, failure, lost in finished:
            if failure:
                self.failed(*failure)
            else:
                self.written(name, lost)
            for step, s in seconds.items():
                self.seconds[step] += s

    def collect_folder(self) -> str:
        return self.seed_dir or self.cam_dir

    def evaluate(self, size: int) -> dict:
        start = time.perf_counter()
        self.add_results(self.pool.close())
        self.seconds['wait'] += time.perf_counter() - start
        return super().evaluate(size)

    def compute_metrics(self, results: List[tuple]) -> dict:
        metrics = super().compute_metrics(results)
        warn_lost_labels([r[1] for r in results if r[0] == 'written' and r[2]],
                         metrics['written'])
        return metrics


def warn_lost_labels(names: List[str], written: int) -> None:
    """Warn when labelled images got all-background seeds (own data without background words,
    a wrong class name, a threshold too high): silent, they would teach stage two nothing."""
    if names:
        print_log(f'{len(names)} of {written} seeds written have no foreground pixel although '
                  f'their images have labels (first: {", ".join(names[:5])}); check the class '
                  'names, model.background_words and the seeder\'s thresholds',
                  logger='current', level=logging.WARNING)


def _task(sample: dict) -> dict:
    """What a worker needs of a data sample (as ``Evaluator.process`` hands it: a dict), in
    plain arrays: pickled to the worker, they cost no shared-memory handles."""
    cams = sample['cams']['data'].cpu().numpy() if 'cams' in sample else None  # TUSS: none
    task = dict(metainfo={k: v for k, v in sample.items() if k not in DATA_FIELDS}, cams=cams,
                seeder=sample.get('seeder'))
    if 'pred_sem_seg' in sample:
        task['seed'] = sample['pred_sem_seg']['data'][0].cpu().numpy()
        task['confidence'] = sample['seed_confidence']['data'][0].cpu().numpy()
    return task


def write_image(outputs: dict, task: dict
                ) -> Tuple[str, Dict[str, float], Optional[Tuple[str, str]], bool]:
    """One image's seed, when the model left it to the writer, then all its files, the seed
    last. Returns the image name, the seconds of the seeder and of the writes, (image path,
    reason) when the seeder could not read the image's inputs (SAMS: its SAM masks) or its
    confidence is not a number (nothing is written then: no seed rather than a wrong one), and
    whether the image has labels but its seed no foreground (:func:`lost_all_labels`)."""
    start = time.perf_counter()
    meta = task['metainfo']
    name, class_ids = meta['img_name'], meta.get('cam_class_ids', [])
    if outputs['seed_dir'] is None:  # CAMs only: as precise as the seeder takes them
        exact = not task['seeder'].reads_float16  # float32, or float16
        save_cams(cam_path(outputs['cam_dir'], name), class_ids, task['cams'],
                  raw=exact or meta.get('raw_cams', False))
        return name, dict(write=time.perf_counter() - start), None, False
    if 'seed' in task:
        seed, confidence = task['seed'], task['confidence']
    else:
        try:
            seed, confidence = task['seeder'](torch.from_numpy(task['cams']), class_ids, meta)
        except IMAGE_ERRORS as e:  # one image's missing or damaged input, not the job's
            return name, {}, (meta['img_path'], str(e)), False
    not_numbers = np.size(confidence) - np.count_nonzero(np.isfinite(confidence))
    if not_numbers:
        return name, {}, (meta['img_path'], f'its seed confidence is NaN or infinite at '
                          f'{not_numbers} of {np.size(confidence)} pixels (the model\'s scores '
                          'of this image are not numbers): not written'), False
    seeded = time.perf_counter()
    if outputs['cam_dir']:
        save_cams(cam_path(outputs['cam_dir'], name), class_ids, task['cams'],
                  raw=meta.get('raw_cams', False))
    if outputs['save_confidence']:
        write_confidence(confidence_path(outputs['seed_dir'], name), confidence)
    if outputs['show_dir']:
        show(osp.join(outputs['show_dir'], name), meta['img_path'], task['cams'], class_ids,
             seed, outputs['classes'], meta.get('clicks'))
    write_label_map(seed_path(outputs['seed_dir'], name), seed)
    return name, dict(seeder=seeded - start, write=time.perf_counter() - seeded), None, \
        lost_all_labels(meta, seed)


def lost_all_labels(metainfo: dict, seed: np.ndarray) -> bool:
    """Whether an image with image-level labels got a seed without any foreground pixel."""
    labelled = bool(np.any(metainfo.get('img_labels', ())))
    return labelled and not bool(((seed > 0) & (seed != IGNORE_INDEX)).any())


def show(base: str, img_path: str, cams: Optional[np.ndarray], class_ids: Sequence[int],
         seed: np.ndarray, classes: Sequence[str], points: Optional[np.ndarray] = None) -> None:
    """``<base>_cams.png`` (a heatmap per CAM, with its click ``points`` when given; none
    without ``cams``) and ``<base>_seed.png`` (the seed over the image)."""
    image = mmcv.imread(img_path)
    os.makedirs(osp.dirname(base), exist_ok=True)
    if cams is not None:
        cv2.imwrite(base + '_cams.png', cam_heatmaps(image, np.asarray(cams, np.float32),
                                                     [classes[c] for c in class_ids],
                                                     points=points))
    cv2.imwrite(base + '_seed.png', seed_overlay(image, seed, classes))
