"""The CAM file format: one ``.npz`` per image, ``<cam_dir>/<img_name>.npz``, holding
``class_ids`` (K,) int64 in 1..C and ``cams`` (K, H, W) at the image's size: float16 for
normalised CAMs in [0, 1], float32 for raw GradCAMs (``raw_cam`` models). Written by
``tools/generate_seeds.py --save-cams``, read by the background-power search and the seeders that
run over saved CAMs."""
import os.path as osp
import zipfile
from typing import Sequence, Tuple

import numpy as np

from .atomic import atomic_write
from .seeds import SeedError
from .verify import remake_hint


def cam_path(cam_dir: str, img_name: str) -> str:
    return osp.join(cam_dir, img_name + '.npz')


def save_cams(path: str, class_ids: Sequence[int], cams: np.ndarray, raw: bool = False) -> None:
    """Write one image's CAMs: ``class_ids`` (K,) in 1..C as int64 and ``cams`` (K, H, W) at
    the image size. Atomic (temp file + rename), like the seeds.

    Normalised CAMs (in [0, 1]) are stored as float16, as the released CLIP-ES code stores
    them: half the size, and within 2.4e-4 of the float32 value, below what moves a seed.
    ``raw`` CAMs (the un-normalised GradCAMs of ``raw_cam`` models) are stored as float32:
    a weak class's raw maximum can be 1e-9 (float16 flushes values below 6e-8 to 0 and keeps
    few bits below 6e-5), and SAMS normalises it back to a score, so its seeds read from
    float16 files would differ from those of the run.
    """
    class_ids = np.asarray(class_ids, np.int64).reshape(-1)
    cams = np.asarray(cams, np.float32 if raw else np.float16)
    if cams.ndim != 3 or len(cams) != len(class_ids):
        raise ValueError(f'{path}: cams must be (K, H, W) with K = {len(class_ids)} class ids, '
                         f'got shape {cams.shape}')
    with atomic_write(path) as f:  # a file object: np.savez would append '.npz' to a name
        np.savez(f, class_ids=class_ids, cams=cams)


def load_cams(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """(class_ids (K,) int64, cams (K, H, W) float32) of a file written by :func:`save_cams`."""
    try:
        with np.load(path) as data:
            return data['class_ids'].astype(np.int64), data['cams'].astype(np.float32)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise SeedError(f'cannot read CAM file {path}: {e}; {remake_hint("cams", path)}') from e
