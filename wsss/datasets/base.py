"""Base of the wsss datasets: an mmseg dataset whose samples also carry image-level labels."""
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import mmengine
import numpy as np
from mmseg.datasets import BaseSegDataset

from ..io.seeds import read_label_map
from ..utils.cache import cached_json, files_fingerprint


class WSSSDataset(BaseSegDataset):
    """An mmseg segmentation dataset whose data infos add

    - ``img_name``: the image's name without extension (seeds are ``<seed_dir>/<img_name>.png``);
    - ``img_labels``: the image-level labels, a multi-hot uint8 vector over the foreground classes
      1..C (index c-1), carried into the data sample's metainfo by ``PackWSSSInputs``;
    - ``num_classes``: C + 1 (background included), so label loaders can check value ranges.

    ``seg_map_path`` is the ground truth when the dataset has one, else absent.
    """

    @property
    def num_classes(self) -> int:
        return len(self.metainfo['classes'])

    def make_data_info(self, img_path: str, img_name: str, class_ids: Iterable[int],
                       seg_map_path: Optional[str] = None) -> dict:
        labels = np.zeros(self.num_classes - 1, dtype=np.uint8)
        for c in class_ids:
            labels[int(c) - 1] = 1
        info = dict(img_path=img_path, img_name=img_name, img_labels=labels,
                    num_classes=self.num_classes, label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label, seg_fields=[])
        if seg_map_path is not None:
            info['seg_map_path'] = seg_map_path
        return info

    def filter_data(self) -> List[dict]:
        """mmengine's filter, then :func:`check_unique_names` (every dataset type)."""
        data_list = super().filter_data()
        check_unique_names(data_list, self.ann_file)
        return data_list

    def read_name_list(self) -> List[str]:
        """The image names of ``ann_file``, one per line, with an error naming a missing file."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'split list {self.ann_file} not found')
        names = mmengine.list_from_file(self.ann_file, encoding='utf-8-sig')  # BOM or not
        return [n.strip() for n in names if n.strip()]


def check_unique_names(data_list: Sequence[dict], source: str) -> None:
    """Refuse two images with one ``img_name``: their seeds (``<img_name>.png``), SAM masks and
    CAMs would overwrite each other, and stage two would pair an image with the other's mask.
    The error names ``source`` (the split or labels file) and both files, or the id listed
    twice."""
    seen: Dict[str, str] = {}
    for info in data_list:
        name, path = info['img_name'], info['img_path']
        if name not in seen:
            seen[name] = path
        elif seen[name] == path:
            raise ValueError(f'{source}: image {name!r} is listed twice; remove one line')
        else:
            raise ValueError(f'{source}: {seen[name]} and {path} have one name, {name!r}, and '
                             'would share one seed file; rename one of them')


def labels_from_masks(paths: Sequence[str], num_classes: int) -> List[List[int]]:
    """Image-level labels (foreground ids present, sorted) of each mask, cached on disk."""

    def compute() -> List[List[int]]:
        out = []
        for p in mmengine.track_iter_progress(list(paths)) if len(paths) > 500 else paths:
            ids = np.unique(read_label_map(p))
            out.append([int(c) for c in ids if 0 < c < num_classes])
        return out

    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'{len(missing)} label masks are missing, first: {missing[0]}')
    key = files_fingerprint(paths, extra=f'labels_from_masks:{num_classes}')
    return cached_json('image_labels', key, compute)


def class_index(classes: Sequence[str]) -> Dict[str, int]:
    """Foreground class name -> id (1..C) for a class tuple that starts with 'background'."""
    return {name: i for i, name in enumerate(classes) if i > 0}


def read_label_list(path: str, num_fg: int) -> List[Tuple[str, List[int]]]:
    """(image name, class ids 1..C) per line of a split file with labels, as the released CLIP-ES
    code ships them (``coco14/train.txt``): ``<image name> <0-based class id> ...`` a line.

    Raises FileNotFoundError for a missing file and ValueError naming the file and line for an id
    that is not an integer in 0..``num_fg`` - 1 or a name listed twice.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'label list {path} not found (dataset setting labels_from)')
    entries, seen = [], set()
    for number, line in enumerate(mmengine.list_from_file(path, encoding='utf-8-sig'), 1):
        if not line.strip():
            continue
        name, *ids = line.split()
        try:
            class_ids = sorted({int(i) + 1 for i in ids})
        except ValueError:
            class_ids = [0]
        if class_ids and not 1 <= class_ids[0] <= class_ids[-1] <= num_fg:
            raise ValueError(f'{path}, line {number}: class ids {ids} are not integers in '
                             f'0..{num_fg - 1} (0-based)')
        if name in seen:
            raise ValueError(f'{path}, line {number}: {name} is listed twice')
        seen.add(name)
        entries.append((name, class_ids))
    return entries
