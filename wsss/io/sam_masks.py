"""The SAM-mask contract: one JSON file per image, ``<mask_dir>/<img_name>.json``::

    {"size": [H, W],
     "masks": [{"segmentation": {"size": [H, W], "counts": "<COCO RLE>"}, "level": 0|1|2,
                "predicted_iou": float, "stability_score": float, "area": int,
                "bbox": [x, y, w, h]}, ...]}

Masks are COCO run-length encodings (pycocotools), level 0/1/2 = sub-part/part/whole. Files are
written atomically (:func:`wsss.io.atomic_write`) and end with a newline, by which a resumed
job tells a complete file from one cut short (:func:`wsss.io.incomplete`).
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from .atomic import atomic_write
from .seeds import SeedError
from .verify import DamagedFileError, remake_hint

STORED_KEYS = ('level', 'predicted_iou', 'stability_score', 'area', 'bbox')


class SAMMaskError(DamagedFileError):
    """A SAM-mask file that cannot be read or breaks the contract; the message names the file."""


def mask_path(mask_dir: str, img_name: str) -> str:
    return osp.join(mask_dir, img_name + '.json')


def save_masks(path: str, masks: Sequence[Dict[str, Any]], size: Tuple[int, int]) -> None:
    """Write an image's masks (records with a COCO RLE ``segmentation`` and the stored keys, e.g.
    :class:`LevelAwareMaskGenerator`'s) and its (height, width), atomically."""
    records = []
    for m in masks:
        rle = m['segmentation']
        counts = rle['counts'].decode() if isinstance(rle['counts'], bytes) else rle['counts']
        records.append(dict(segmentation=dict(size=[int(s) for s in rle['size']], counts=counts),
                            **{k: m[k] for k in STORED_KEYS}))
    with atomic_write(path, 'w') as f:
        json.dump(dict(size=[int(s) for s in size], masks=records), f)
        f.write('\n')  # the end a resumed job checks for (wsss.io.incomplete)


def _read(path: str) -> Tuple[Tuple[int, int], List[Dict[str, Any]]]:
    try:
        with open(path) as f:
            content = json.load(f)
        size = tuple(int(s) for s in content['size'])
        masks = content['masks']
        for m in masks:
            if list(m['segmentation']['size']) != list(size):
                raise SAMMaskError(f'{path}: a mask of size {m["segmentation"]["size"]} in a file '
                                   f'of size {list(size)}')
    except SAMMaskError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SAMMaskError(f'cannot read SAM masks {path}: {e!r}; '
                           f'{remake_hint("sam_masks", path)}') from e
    return size, masks


def load_masks(path: str) -> List[Dict[str, Any]]:
    """The mask records of a file (COCO RLE ``segmentation`` and the stored keys)."""
    return _read(path)[1]


def decode_masks(masks: Sequence[Dict[str, Any]], size: Tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool array of mask records; ``size`` (H, W) shapes the empty case."""
    if not masks:
        return np.zeros((0, *size), bool)
    return mask_utils.decode([m['segmentation'] for m in masks]).transpose(2, 0, 1).astype(bool)


def load_mask_array(path: str) -> np.ndarray:
    """The masks of a file as an (N, H, W) bool array."""
    size, masks = _read(path)
    try:
        return decode_masks(masks, size)
    except Exception as e:  # pycocotools raises several types on corrupt counts
        raise SAMMaskError(f'cannot decode SAM masks {path}: {e!r}; '
                           f'{remake_hint("sam_masks", path)}') from e


def image_masks(mask_dir: str, img_name: str, size: Optional[Tuple[int, int]] = None,
                setting: Optional[str] = None) -> Tuple[List[Dict[str, Any]], np.ndarray]:
    """The mask records and (M, H, W) bool masks of image ``img_name`` in ``mask_dir``, as the
    seeders and the evaluation read them. ``size``: the image's (H, W), checked against the
    file's (a :class:`SeedError` when they differ: masks made for another image); without it,
    the file's own size shapes an empty mask set. A missing file is a FileNotFoundError naming
    the command that makes masks, and ``setting``, the config key that points here."""
    path = mask_path(mask_dir, img_name)
    if not osp.isfile(path):
        where = f', or set {setting}' if setting else ''
        raise FileNotFoundError(f'SAM masks {path} not found: make them with '
                                f'tools/sam_masks.py{where}')
    records = load_masks(path)
    masks = decode_masks(records, size) if records or size else load_mask_array(path)
    if size is not None and masks.shape[1:] != tuple(size):
        raise SeedError(f'{path}: masks of size {masks.shape[1:]} for an image of size '
                        f'{tuple(size)}')
    return records, masks
