"""The seed format: one single-channel PNG per image, ``<seed_dir>/<img_name>.png``, values 0..C
(0 background) or 255 (ignore), the image's size, with the VOC palette; optionally a uint8
confidence PNG beside it, ``<img_name>_conf.png`` (0..255 <-> 0..1). Stage two's ground truth and
pseudo labels are read with the same functions. Writes are atomic (temp file + rename), so an
interrupted run never leaves a half-written seed."""
import functools
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
from PIL import Image

from .atomic import atomic_write
from .images import image_size

IGNORE_INDEX = 255
CONFIDENCE_SUFFIX = '_conf.png'
# zlib level of the PNGs written here (PIL's default is 6): level 3 encodes seeds several times
# faster in slightly larger files; the PNGs are most of an argmax seed job's CPU work per image
# (tools/benchmark/seed_cpu.py, README: Performance). The pixels are the same at any level.
PNG_COMPRESS_LEVEL = 3


def voc_palette(num_colors: int = 256) -> List[List[int]]:
    """The PASCAL VOC colour map (bit-interleaved), extended to any number of colours."""
    palette = []
    for i in range(num_colors):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette


@functools.lru_cache(maxsize=None)
def flat_palette() -> Tuple[int, ...]:
    """The 768-entry flat VOC palette PIL expects for mode 'P' images (255, ignore, is cream);
    built once (every label map written carries it)."""
    return tuple(v for rgb in voc_palette(256) for v in rgb)


class SeedError(ValueError):
    """A seed or label map that breaks the contract; the message names the file."""


def seed_path(seed_dir: str, img_name: str) -> str:
    return osp.join(seed_dir, img_name + '.png')


def confidence_path(seed_dir: str, img_name: str) -> str:
    return osp.join(seed_dir, img_name + CONFIDENCE_SUFFIX)


def _atomic_save(img: Image.Image, path: str, compress_level: int) -> None:
    with atomic_write(path) as f:
        img.save(f, format='PNG', compress_level=compress_level)


def write_label_map(path: str, label: np.ndarray,
                    compress_level: int = PNG_COMPRESS_LEVEL) -> None:
    """Write a label map (H, W) of uint8 class ids as a VOC-palette PNG, atomically."""
    if label.ndim != 2:
        raise SeedError(f'{path}: a label map must be 2-D, got shape {label.shape}')
    img = Image.fromarray(label.astype(np.uint8), mode='P')
    img.putpalette(flat_palette())
    _atomic_save(img, path, compress_level)


def write_confidence(path: str, confidence: np.ndarray,
                     compress_level: int = PNG_COMPRESS_LEVEL) -> None:
    """Write a confidence map in [0, 1] as a uint8 grey PNG (0..255), atomically."""
    conf = np.clip(np.rint(np.asarray(confidence, np.float64) * 255), 0, 255).astype(np.uint8)
    _atomic_save(Image.fromarray(conf, mode='L'), path, compress_level)


def read_label_map(path: str) -> np.ndarray:
    """Read a palette (or grey) PNG label map as uint8 class ids, with an error naming the file."""
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L'):
                raise SeedError(f'{path}: a label map must be a single-channel PNG, got mode '
                                f'{img.mode}')
            return np.array(img, dtype=np.uint8)
    except SeedError:
        raise
    except (OSError, ValueError) as e:
        raise SeedError(f'cannot read label map {path}: {e}') from e


def check_label_map(label: np.ndarray, num_classes: int, path: str,
                    image_size: Optional[Tuple[int, int]] = None) -> None:
    """Raise SeedError naming ``path`` if ``label`` holds values outside 0..num_classes-1 and 255,
    or if its (height, width) differs from ``image_size``. ``num_classes`` counts the
    background."""
    if image_size is not None and tuple(label.shape[:2]) != tuple(image_size):
        raise SeedError(f'{path}: size {label.shape[1]}x{label.shape[0]} (WxH) differs from its '
                        f'image, {image_size[1]}x{image_size[0]}')
    bad = (label >= num_classes) & (label != IGNORE_INDEX)
    if bad.any():
        values = sorted(int(v) for v in np.unique(label[bad]))
        raise SeedError(f'{path}: values {values} are outside 0..{num_classes - 1} and '
                        f'{IGNORE_INDEX} ({num_classes} classes with background)')


def find_seed_problems(samples: Iterable[Tuple[str, str]], seed_dir: str,
                       num_classes: int) -> Dict[str, List[str]]:
    """Check the seeds of ``samples`` ((img_name, img_path) pairs) against the contract.

    Returns the problems by kind, 'missing', 'unreadable', 'size' and 'values', each a list of
    messages naming the file; all empty when every seed is good.
    """
    problems: Dict[str, List[str]] = {k: [] for k in ('missing', 'unreadable', 'size', 'values')}
    for img_name, img_path in samples:
        path = seed_path(seed_dir, img_name)
        if not osp.isfile(path):
            problems['missing'].append(path)
            continue
        try:
            label = read_label_map(path)
        except SeedError as e:
            problems['unreadable'].append(str(e))
            continue
        try:
            size = image_size(img_path)
        except (OSError, ValueError) as e:
            problems['unreadable'].append(f'cannot read image {img_path} of seed {path}: {e}')
            continue
        try:
            check_label_map(label, num_classes, path, size)
        except SeedError as e:
            problems['size' if 'differs' in str(e) else 'values'].append(str(e))
    return problems
