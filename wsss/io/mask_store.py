"""The per-mask store of TUSS stages: one ``.npz`` file per image (a shard), written atomically.

A stage that runs over a split (zero-shot, LP, probe, combination) writes beside its seeds
(``<step>/seeds/``) a folder ``<step>/mask_store/`` with ``<img_name>.npz`` holding, for the
image's M SAM masks in the order of its mask file:

- ``scores`` (M, K) float32: the stage's per-mask scores P (zero outside ``cls_lb``), the next
  stage's input;
- ``cls_lb`` (K,) bool: the classes the image may contain (background and its labels, or all);
- the zero-shot stage adds ``embeddings`` (M, D) float32 (unnormalised DBA-CLIP mask
  embeddings), ``areas`` (M,) int64, ``levels`` (M,) int8, ``logits`` (M, |V|) float32 and, for
  semi supervision, ``labelled`` (a bool scalar) and ``gt`` (M, K) GT vote fractions.

A shard is written before its seed, so a seed that exists means its shard is complete;
:func:`load_split` concatenates the shards of a split into N-row arrays with ``img_index``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .atomic import atomic_write
from .verify import DamagedFileError, remake_hint

STORE_FOLDER = 'mask_store'


def store_dir(seed_dir: str) -> str:
    """The mask store beside a stage's seed folder: ``<seed_dir>/../mask_store``."""
    return osp.join(osp.dirname(osp.abspath(seed_dir.rstrip('/'))), STORE_FOLDER)


def shard_path(folder: str, img_name: str) -> str:
    return osp.join(folder, img_name + '.npz')


def save_shard(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Write one image's arrays atomically (temp file + rename)."""
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_shard(path: str, setting: str = 'the step\'s input') -> Dict[str, np.ndarray]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'TUSS mask store file {path} not found: run the step that '
                                f'writes it first, or set {setting}')
    try:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    except Exception as e:  # numpy and zipfile raise many types on a damaged file
        raise DamagedFileError(f'cannot read TUSS mask store file {path}: {e!r}; '
                               f'{remake_hint("mask_store", path)}') from e


def split_names(folder: str, setting: str = 'the step\'s input') -> List[str]:
    """The image names of a mask store folder, sorted."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'TUSS mask store {folder} not found: run the step that writes '
                                f'it first, or set {setting}')
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith('.npz'))


def load_split(folder: str, keys: Sequence[str], names: Optional[Sequence[str]] = None,
               setting: str = 'the step\'s input') -> Dict[str, np.ndarray]:
    """``keys`` of every shard of ``folder`` (or of ``names``) concatenated over masks, plus
    ``img_index`` (N,) and ``offsets`` (num_images + 1,) so image i owns rows
    offsets[i]:offsets[i+1]; per-image keys (``cls_lb``) are repeated for each of its masks."""
    names = split_names(folder, setting) if names is None else list(names)
    parts: Dict[str, List[np.ndarray]] = {k: [] for k in keys}
    counts = []
    for name in names:
        shard = load_shard(shard_path(folder, name), setting)
        m = len(shard['scores'])
        counts.append(m)
        for k in keys:
            if k not in shard:
                raise KeyError(f'{shard_path(folder, name)} has no {k!r}: {setting} must be a '
                               f'step that stores it')
            value = shard[k]
            parts[k].append(np.repeat(value[None], m, axis=0) if value.ndim < 2 and k in (
                'cls_lb', 'labelled') else value)
    out = {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}
    out['img_index'] = np.repeat(np.arange(len(names)), counts)
    out['offsets'] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out['names'] = np.array(names)
    return out
