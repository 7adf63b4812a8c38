"""The seed contract: one single-channel palette PNG per image (values 0..C or 255, the image's size),
optionally a uint8 confidence PNG beside it (0..255 <-> 0..1). Writes are atomic (temp file + rename),
so an interrupted run never leaves a half-written seed."""
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..io import atomic_write
from .class_names import flat_palette

IGNORE_INDEX = 255
CONFIDENCE_SUFFIX = '_conf.png'


class SeedError(ValueError):
    """A seed or label map that breaks the contract; the message names the file."""


def seed_path(seed_dir: str, img_name: str) -> str:
    return osp.join(seed_dir, img_name + '.png')


def confidence_path(seed_dir: str, img_name: str) -> str:
    return osp.join(seed_dir, img_name + CONFIDENCE_SUFFIX)


def _atomic_save(img: Image.Image, path: str) -> None:
    with atomic_write(path) as f:
        img.save(f, format='PNG')


def write_label_map(path: str, label: np.ndarray) -> None:
    """Write a label map (H, W) of uint8 class ids as a VOC-palette PNG, atomically."""
    if label.ndim != 2:
        raise SeedError(f'{path}: a label map must be 2-D, got shape {label.shape}')
    img = Image.fromarray(label.astype(np.uint8), mode='P')
    img.putpalette(flat_palette())
    _atomic_save(img, path)


def write_confidence(path: str, confidence: np.ndarray) -> None:
    """Write a confidence map in [0, 1] as a uint8 grey PNG (0..255), atomically."""
    conf = np.clip(np.rint(np.asarray(confidence, np.float64) * 255), 0, 255).astype(np.uint8)
    _atomic_save(Image.fromarray(conf, mode='L'), path)


def read_label_map(path: str) -> np.ndarray:
    """Read a palette (or grey) PNG label map as uint8 class ids, with an error naming the file."""
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L'):
                raise SeedError(f'{path}: a label map must be a single-channel PNG, got mode {img.mode}')
            return np.array(img, dtype=np.uint8)
    except SeedError:
        raise
    except (OSError, ValueError) as e:
        raise SeedError(f'cannot read label map {path}: {e}') from e


def check_label_map(label: np.ndarray, num_classes: int, path: str,
                    image_size: Optional[Tuple[int, int]] = None) -> None:
    """Raise SeedError naming ``path`` if ``label`` holds values outside 0..num_classes-1 and 255, or
    if its (height, width) differs from ``image_size``. ``num_classes`` counts the background."""
    if image_size is not None and tuple(label.shape[:2]) != tuple(image_size):
        raise SeedError(f'{path}: size {label.shape[1]}x{label.shape[0]} (WxH) differs from its '
                        f'image, {image_size[1]}x{image_size[0]}')
    bad = (label >= num_classes) & (label != IGNORE_INDEX)
    if bad.any():
        values = sorted(int(v) for v in np.unique(label[bad]))
        raise SeedError(f'{path}: values {values} are outside 0..{num_classes - 1} and '
                        f'{IGNORE_INDEX} ({num_classes} classes with background)')


EXIF_ORIENTATION = 0x0112
TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # rotated by 90 or 270 degrees: width and height swap


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of an image as it is shown and decoded (``LoadImage``, ``mmcv.imread``:
    EXIF orientation applied), from its header, without decoding it. The one place sizes are
    read: seeds, their checks and the size-ordered batches agree with the pixels."""
    with Image.open(path) as img:
        orientation = img.getexif().get(EXIF_ORIENTATION, 1)
        if orientation in TRANSPOSED_ORIENTATIONS:
            return img.width, img.height
        return img.height, img.width


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
