"""Seeds from saved CAM files, as a CPU job apart from the GPU job that made the CAMs
(tools/generate_seeds.py --cams-only, then tools/seed_from_cams.py).

Each image's CAMs are read from ``<cam_dir>/<img_name>.npz`` (:func:`load_cams`) and go through
the seeder and the writes of the one-job path (:func:`wsss.evaluation.seed_writer.write_image`),
so from the files of ``--cams-only`` (float32, or float16 for a seeder that rounds its CAMs to
float16 itself: ``CRFSeeder`` with ``released``) the seeds are the same bytes. From the float16
files of a normal ``--save-cams`` run that holds for that seeder and for raw CAMs (stored float32
anyway); other seeders may then differ where float16 rounding moves a pixel.

Time and memory: one image's CAMs and seed at a time per worker; the job's time grows linearly
with N and, up to the machine's cores, shrinks as 1 / ``nproc`` (README: Performance).
"""
import logging
import os.path as osp
import time
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..datasets.samplers import PendingSeedSampler
from ..datasets.transforms import IMAGE_ERRORS
from ..io.cams import cam_path, load_cams
from ..io.images import image_size
from ..io.seeds import SeedError
from ..utils.progress import Progress
from ..utils.workers import BoundedPool
from .seed_writer import SeedWriter, write_image

Result = Tuple[str, Dict[str, float], Optional[Tuple[str, str]], bool]  # write_image's


def read_image_cams(path: str, metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
    """(class ids, float32 CAMs) of one image's CAM file, checked against the image: the class
    ids must be its labelled classes and the CAMs at its size. SeedError names the file."""
    class_ids, cams = load_cams(path)
    labels = metainfo.get('img_labels')
    if labels is not None:
        labelled = (np.flatnonzero(np.asarray(labels)) + 1).tolist()
        if class_ids.tolist() != labelled:
            raise SeedError(f'{path}: CAMs of classes {class_ids.tolist()}, but the image is '
                            f'labelled {labelled}: CAMs of another dataset or label file; '
                            '--cam-dir must be the folder this config\'s run wrote')
    size = image_size(metainfo['img_path'])
    if cams.shape[1:] != size:
        raise SeedError(f'{path}: CAMs of size {cams.shape[2]}x{cams.shape[1]} (WxH) for an '
                        f'image of size {size[1]}x{size[0]}: --cam-dir must be the folder this '
                        'config\'s run wrote')
    return class_ids, cams


def seed_image(outputs: dict, seeder: Callable, cam_dir: str, metainfo: dict) -> Result:
    """One image: its CAM file read, then :func:`write_image` (the seeder, the seed and its
    confidence). A missing or bad CAM file fails the image, not the job."""
    path = cam_path(cam_dir, metainfo['img_name'])
    start = time.perf_counter()
    try:
        class_ids, cams = read_image_cams(path, metainfo)
    except FileNotFoundError:
        return metainfo['img_name'], {}, (metainfo['img_path'], f'no CAM file {path}: make it '
                                          'with tools/generate_seeds.py --cams-only'), False
    except (SeedError, *IMAGE_ERRORS) as e:
        return metainfo['img_name'], {}, (metainfo['img_path'], str(e)), False
    read = time.perf_counter() - start
    task = dict(metainfo=dict(metainfo, cam_class_ids=class_ids.tolist()), cams=cams,
                seeder=seeder)
    name, seconds, failure, lost = write_image(outputs, task)
    return name, dict(seconds, read=read), failure, lost


def warn_rounded_cams(paths: Sequence[str], seeder: Callable) -> None:
    """Warn when the first CAM file there is holds float16 CAMs (a normal ``--save-cams``
    run's) and ``seeder`` takes float32 ones: its seeds may then differ from a whole run's."""
    path = next((p for p in paths if osp.isfile(p)), None)
    if path is None or seeder.reads_float16:
        return
    try:
        with np.load(path) as data:
            rounded = data['cams'].dtype == np.float16
    except (OSError, ValueError, KeyError):
        return  # the image's own read names the file
    if rounded:
        print_log(f'{path} holds float16 CAMs (a --save-cams run\'s): {type(seeder).__name__} '
                  'seeds from them may differ from a whole run\'s where the rounding moves a '
                  'pixel; tools/generate_seeds.py --cams-only writes them as the seeder takes '
                  'them', logger='current', level=logging.WARNING)


def seed_cam_dir(dataset: BaseDataset, cam_dir: str, seed_dir: str, seeder: Callable,
                 nproc: int, failed_file: Optional[str] = None, strict: bool = False,
                 show_dir: Optional[str] = None) -> dict:
    """Write the seeds (and confidences) of every image of ``dataset`` whose seed in
    ``seed_dir`` is not complete yet, from its CAMs in ``cam_dir``, in ``nproc`` CPU processes
    (0: this one). As tools/generate_seeds.py: a complete seed is skipped (a damaged one redone,
    :class:`PendingSeedSampler`), images that fail are listed in ``failed_file`` (``strict``:
    the first stops the job), a bar shows progress. Returns the counts ``written`` and
    ``failed`` and the summed ``seconds`` per step (read, seeder, write)."""
    pending = PendingSeedSampler(dataset, seed_dir).pending
    warn_rounded_cams([cam_path(cam_dir, dataset.get_data_info(i)['img_name'])
                       for i in pending], seeder)
    writer = SeedWriter(seed_dir, show_dir=show_dir, workers=0, failed_file=failed_file,
                        strict=strict)  # the bookkeeping of the one-job path; the pool is ours
    writer.dataset_meta = dataset.metainfo
    writer.seconds['read'] = 0.0
    bar = Progress(len(dataset), 'seeds', done=len(dataset) - len(pending))
    pool = BoundedPool(nproc, idle=False)  # the job's own cores: nothing else runs here
    task = partial(seed_image, writer.outputs(), seeder, cam_dir)

    def add(results: List[Result]) -> None:
        writer.add_results(results)
        bar.update(len(results))

    try:
        for i in pending:
            pool.submit(task, dataset.get_data_info(i))
            add(pool.finished())
        add(pool.close())
    finally:
        pool.shutdown()
        bar.close()
    metrics = writer.compute_metrics(writer.results)
    return dict(metrics, seconds=writer.seconds)
