"""Writes seeds from mmengine's test loop: the stage-one model's predictions become files."""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch

from ..datasets.seeds import confidence_path, seed_path, write_confidence, write_label_map
from ..datasets.transforms import ImageLoadError
from ..registry import METRICS
from ..utils.workers import BoundedPool
from ..visualization import cam_heatmaps, seed_overlay
from .rank_collect import FileCollectMetric, clear_rank_files
from .seed_eval import save_cams

DATA_FIELDS = ('pred_sem_seg', 'seed_confidence', 'cams', 'seeder')


@METRICS.register_module()
class SeedWriter(FileCollectMetric):
    """Writes, per image, the seed ``<seed_dir>/<img_name>.png``, its confidence
    ``<img_name>_conf.png`` and, with ``cam_dir``, its CAMs ``<cam_dir>/<img_name>.npz``; with
    ``show_dir``, pictures of the CAMs (with the clicks of a click seeder) and the seed.

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

    Images the loader could not decode (``LoadImage(record_errors=True)`` marks them
    ``load_error``) are skipped and listed, over all ranks, in ``failed_file`` as
    ``[{"file": ..., "reason": ...}]`` (the file is removed when a run has none); with
    ``strict`` the first one stops the run.

    Args:
        workers: post-processing processes; None: the cores this rank may use that the model
            leaves free (:func:`wsss.utils.workers.spare_cores`): beside a GPU those its process
            and the loader leave;
            on a CPU-only machine those beyond torch's threads.
    """

    default_prefix = 'seeds'

    def __init__(self, seed_dir: str, cam_dir: Optional[str] = None,
                 show_dir: Optional[str] = None, save_confidence: bool = True,
                 workers: Optional[int] = None, failed_file: Optional[str] = None,
                 strict: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.seed_dir, self.cam_dir, self.show_dir = seed_dir, cam_dir, show_dir
        self.save_confidence = save_confidence
        self.failed_file, self.strict = failed_file, strict
        clear_rank_files(seed_dir)
        self.pool = BoundedPool(workers)
        self.pool.start()  # before the model runs: the workers share its weights, nothing more
        # seconds spent per step, summed over the images: seeder and write in the workers,
        # wait in this process (blocked on a full pool, or at the end)
        self.seconds = dict(seeder=0.0, write=0.0, wait=0.0)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        start = time.perf_counter()
        for sample in data_samples:
            if 'load_error' in sample:
                if self.strict:
                    raise ImageLoadError(f"{sample['load_error']} (--strict stops at the first "
                                         'bad image)')
                self.results.append(('failed', sample['img_path'], sample['load_error']))
                continue
            self.pool.submit(write_image, self._outputs(), _task(sample))
        self._add(self.pool.finished())
        self.seconds['wait'] += time.perf_counter() - start

    def _outputs(self) -> dict:
        classes = self.dataset_meta['classes'] if self.dataset_meta else [
            str(i) for i in range(256)]
        return dict(seed_dir=self.seed_dir, cam_dir=self.cam_dir, show_dir=self.show_dir,
                    save_confidence=self.save_confidence, classes=classes)

    def _add(self, finished: List[Tuple[str, Dict[str, float]]]) -> None:
        for name, seconds in finished:
            self.results.append(('written', name))
            for step, s in seconds.items():
                self.seconds[step] += s

    def collect_folder(self) -> str:
        return self.seed_dir

    def evaluate(self, size: int) -> dict:
        start = time.perf_counter()
        self._add(self.pool.close())
        self.seconds['wait'] += time.perf_counter() - start
        return super().evaluate(size)

    def compute_metrics(self, results: List[tuple]) -> dict:
        failed = [dict(file=r[1], reason=r[2]) for r in results if r[0] == 'failed']
        if self.failed_file:
            write_failed_list(self.failed_file, failed)
        return dict(written=sum(r[0] == 'written' for r in results), failed=len(failed))


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


def write_image(outputs: dict, task: dict) -> Tuple[str, Dict[str, float]]:
    """One image's seed, when the model left it to the writer, then all its files, the seed
    last. Returns the image name and the seconds of the seeder and of the writes."""
    start = time.perf_counter()
    meta = task['metainfo']
    name, class_ids = meta['img_name'], meta.get('cam_class_ids', [])
    if 'seed' in task:
        seed, confidence = task['seed'], task['confidence']
    else:
        seed, confidence = task['seeder'](torch.from_numpy(task['cams']), class_ids, meta)
    seeded = time.perf_counter()
    if outputs['cam_dir']:
        save_cams(osp.join(outputs['cam_dir'], name + '.npz'), class_ids, task['cams'])
    if outputs['save_confidence']:
        write_confidence(confidence_path(outputs['seed_dir'], name), confidence)
    if outputs['show_dir']:
        show(osp.join(outputs['show_dir'], name), meta['img_path'], task['cams'], class_ids,
             seed, outputs['classes'], meta.get('clicks'))
    write_label_map(seed_path(outputs['seed_dir'], name), seed)
    return name, dict(seeder=seeded - start, write=time.perf_counter() - seeded)


def show(base: str, img_path: str, cams: Optional[np.ndarray], class_ids: Sequence[int], seed: np.ndarray,
         classes: Sequence[str], points: Optional[np.ndarray] = None) -> None:
    """``<base>_cams.png`` (a heatmap per CAM, with its click ``points`` when given; none
    without ``cams``) and ``<base>_seed.png`` (the seed over the image)."""
    image = mmcv.imread(img_path)
    os.makedirs(osp.dirname(base), exist_ok=True)
    if cams is not None:
        cv2.imwrite(base + '_cams.png', cam_heatmaps(image, np.asarray(cams, np.float32),
                                                     [classes[c] for c in class_ids],
                                                     points=points))
    cv2.imwrite(base + '_seed.png', seed_overlay(image, seed, classes))


def write_failed_list(path: str, failed: List[dict]) -> None:
    """``[{"file", "reason"}, ...]`` as JSON, atomically; no failures remove an older list."""
    if not failed:
        if osp.isfile(path):
            os.remove(path)
        return
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(failed, f, indent=1)
    os.replace(tmp, path)


def print_failed_list(path: str) -> None:
    """Print the images of a :func:`write_failed_list` file, one a line."""
    with open(path) as f:
        failed = json.load(f)
    print(f'\n{len(failed)} images could not be read (listed in {path}); the others are '
          'written:')
    for item in failed:
        print(f"  {item['file']}: {item['reason']}")
