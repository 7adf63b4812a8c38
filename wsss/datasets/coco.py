"""MS COCO 2014 as a semantic segmentation dataset: 80 classes + background.

Category ids are remapped to 1..80 in ascending id order. Semantic GT is built from the instance
annotations with pycocotools (``coco_semantic_mask``) and written once as PNGs by
``tools/dataset_converters/coco14.py``. Overlaps: instances are painted from the largest to the
smallest, so where two overlap the smaller one wins (its pixels would otherwise vanish entirely).
Crowd annotations (``iscrowd=1``) count like any other by default (``crowd='label'``); with
``crowd='ignore'`` they label nothing and their pixels are 255.
"""
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools.coco import COCO

from ..io.seeds import IGNORE_INDEX, voc_palette
from ..registry import DATASETS
from .base import WSSSDataset, read_label_list
from .class_names import COCO14_CLASSES, with_background

CROWD_MODES = ('label', 'ignore')


def load_coco(ann_file: str) -> COCO:
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'COCO annotation file {ann_file} not found')
    return COCO(ann_file)


def category_to_label(coco: COCO, ann_file: str) -> Dict[int, int]:
    """COCO category id -> class id 1..80, checking the names against the 80 COCO classes."""
    cats = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c['id'])
    names = tuple(c['name'] for c in cats)
    if names != COCO14_CLASSES:
        raise ValueError(f'{ann_file}: categories {names} are not the 80 COCO classes in order')
    return {c['id']: i + 1 for i, c in enumerate(cats)}


def image_class_ids(coco: COCO, img_id: int, cat_to_label: Dict[int, int],
                    crowd: str = 'label') -> List[int]:
    anns = coco.imgToAnns.get(img_id, [])
    return sorted({cat_to_label[a['category_id']] for a in anns
                   if crowd == 'label' or not a.get('iscrowd', 0)})


def compare_labels(coco: COCO, cat_to_label: Dict[int, int],
                   listed: Sequence[Tuple[str, List[int]]]) -> dict:
    """How the labels of a split file (:func:`wsss.datasets.base.read_label_list`) differ from
    those derived from the annotations (crowd annotations counting), by image file stem.

    Returns ``listed`` and ``annotated`` (image counts), ``only_listed`` and ``only_annotated``
    (sorted names), ``differ`` (names in both with other classes), ``extra_annotated`` and
    ``extra_listed`` (Counters of class ids over the (image, class) pairs that only one side
    has), ``crowd_only`` (pairs whose class has crowd annotations only in the image) and
    ``crowd_only_listed`` (how many of those the list holds).
    """
    derived, crowd_only = {}, set()
    for img_id in coco.getImgIds():
        name = osp.splitext(coco.imgs[img_id]['file_name'])[0]
        ids = image_class_ids(coco, img_id, cat_to_label)
        if ids:
            derived[name] = set(ids)
        plain = set(image_class_ids(coco, img_id, cat_to_label, crowd='ignore'))
        crowd_only.update((name, c) for c in set(ids) - plain)
    given = {name: set(ids) for name, ids in listed}
    both = sorted(given.keys() & derived.keys())
    return dict(
        listed=len(given), annotated=len(derived),
        only_listed=sorted(given.keys() - derived.keys()),
        only_annotated=sorted(derived.keys() - given.keys()),
        differ=[n for n in both if given[n] != derived[n]],
        extra_annotated=Counter(c for n in both for c in derived[n] - given[n]),
        extra_listed=Counter(c for n in both for c in given[n] - derived[n]),
        crowd_only=len(crowd_only),
        crowd_only_listed=sum(c in given.get(n, ()) for n, c in crowd_only))


def coco_semantic_mask(coco: COCO, img_id: int, cat_to_label: Dict[int, int],
                       crowd: str = 'label') -> np.ndarray:
    """(H, W) uint8 semantic mask of one image: 0 background, 1..80 classes, 255 crowd if
    ignored."""
    info = coco.imgs[img_id]
    mask = np.zeros((info['height'], info['width']), dtype=np.uint8)
    anns = sorted(coco.imgToAnns.get(img_id, []), key=lambda a: -a.get('area', 0))
    for ann in anns:
        m = coco.annToMask(ann).astype(bool)
        if ann.get('iscrowd', 0) and crowd == 'ignore':
            mask[m] = IGNORE_INDEX
        else:
            mask[m] = cat_to_label[ann['category_id']]
    return mask


@DATASETS.register_module()
class COCO14Dataset(WSSSDataset):
    """COCO 2014 under ``data_root``::

        train2014/*.jpg  val2014/*.jpg
        annotations/instances_{train,val}2014.json
        SegmentationClass/{train,val}2014/*.png     (tools/dataset_converters/coco14.py)

    Args:
        split: ``'train'`` or ``'val'``.
        drop_empty: drop images without any (counted) annotation: 82,081 train / 40,137 val images.
        crowd: ``'label'`` or ``'ignore'`` (see the module docstring).
        labels_from: a split file with labels, ``<image name> <0-based class id> ...`` a line
            (the released CLIP-ES ``coco14/train.txt``; a path as given, not under
            ``data_root``): its images, in its order, and its labels replace those derived
            from the annotations (``ann_file`` is not read, ``crowd`` has no effect).
            ``tools/dataset_converters/coco14.py --compare-labels`` prints where they differ.
    """

    METAINFO = dict(classes=with_background(COCO14_CLASSES), palette=voc_palette(81))

    def __init__(self, data_root: str, split: str = 'train', ann_file: Optional[str] = None,
                 img_dir: Optional[str] = None, seg_map_dir: Optional[str] = None,
                 drop_empty: bool = True, crowd: str = 'label',
                 labels_from: Optional[str] = None, **kwargs) -> None:
        if crowd not in CROWD_MODES:
            raise ValueError(f'crowd must be one of {CROWD_MODES}, got {crowd!r}')
        self.split, self.drop_empty, self.crowd = split, drop_empty, crowd
        self.labels_from = labels_from
        super().__init__(
            ann_file=ann_file or osp.join('annotations', f'instances_{split}2014.json'),
            data_root=data_root,
            data_prefix=dict(img_path=img_dir or f'{split}2014',
                             seg_map_path=seg_map_dir or osp.join('SegmentationClass',
                                                                  f'{split}2014')),
            img_suffix='.jpg', seg_map_suffix='.png', **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.labels_from:
            return self.data_list_from_labels()
        coco = load_coco(self.ann_file)
        cat_to_label = category_to_label(coco, self.ann_file)
        img_dir, seg_dir = self.data_prefix['img_path'], self.data_prefix['seg_map_path']
        data_list = []
        for img_id in sorted(coco.getImgIds()):
            ids = image_class_ids(coco, img_id, cat_to_label, self.crowd)
            if self.drop_empty and not ids:
                continue
            file_name = coco.imgs[img_id]['file_name']
            name = osp.splitext(file_name)[0]
            seg = osp.join(seg_dir, name + self.seg_map_suffix)
            data_list.append(self.make_data_info(
                osp.join(img_dir, file_name), name, ids, seg if osp.isfile(seg) else None))
        return data_list

    def data_list_from_labels(self) -> List[dict]:
        """The images and labels of ``labels_from`` (see the class docstring)."""
        img_dir, seg_dir = self.data_prefix['img_path'], self.data_prefix['seg_map_path']
        data_list = []
        for name, ids in read_label_list(self.labels_from, self.num_classes - 1):
            if self.drop_empty and not ids:
                continue
            seg = osp.join(seg_dir, name + self.seg_map_suffix)
            data_list.append(self.make_data_info(osp.join(img_dir, name + self.img_suffix), name,
                                                 ids, seg if osp.isfile(seg) else None))
        return data_list
