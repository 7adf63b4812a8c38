"""PASCAL VOC 2012 (with the SBD augmentation): images, image-level labels and GT masks."""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Optional

from ..io.seeds import voc_palette
from ..registry import DATASETS
from .base import WSSSDataset, class_index, labels_from_masks, read_label_list
from .class_names import VOC12_CLASSES, with_background


@DATASETS.register_module()
class VOC12Dataset(WSSSDataset):
    """VOC 2012 in its usual layout under ``data_root`` (``VOCdevkit/VOC2012``)::

        JPEGImages/<name>.jpg
        SegmentationClass/<name>.png       GT of train / val (palette PNG, 255 on borders)
        SegmentationClassAug/<name>.png    GT of train_aug (tools/dataset_converters/voc_aug.py)
        Annotations/<name>.xml
        ImageSets/Segmentation/{train,train_aug,val}.txt

    Args:
        split: name of the list in ImageSets/Segmentation (train, train_aug, val, ...).
        label_source: where image-level labels come from: ``'mask'`` (classes present in the split's
            GT masks; cached on disk) or ``'xml'`` (every object of the XML annotation, difficult
            ones included, as in the usual WSSS label files) or ``'none'`` (no labels: the test
            split, whose masks and labels are not public, for submission files).
        seg_map_dir: GT mask folder; default SegmentationClassAug for train_aug, else
            SegmentationClass.
        labels_from: a split file with labels, ``<image name> <0-based class id> ...`` a line
            (a path as given, not under ``data_root``): its images, in its order, and its labels
            replace the split list and ``label_source``.
    """

    METAINFO = dict(classes=with_background(VOC12_CLASSES), palette=voc_palette(21))

    def __init__(self, data_root: str, split: str = 'train', label_source: str = 'mask',
                 seg_map_dir: Optional[str] = None, img_dir: str = 'JPEGImages',
                 labels_from: Optional[str] = None, **kwargs) -> None:
        if label_source not in ('mask', 'xml', 'none'):
            raise ValueError(f"label_source must be 'mask', 'xml' or 'none', got {label_source!r}")
        self.split = split
        self.label_source, self.labels_from = label_source, labels_from
        if seg_map_dir is None:
            seg_map_dir = 'SegmentationClassAug' if split == 'train_aug' else 'SegmentationClass'
        super().__init__(
            ann_file=osp.join('ImageSets', 'Segmentation', f'{split}.txt'), data_root=data_root,
            data_prefix=dict(img_path=img_dir, seg_map_path=seg_map_dir), img_suffix='.jpg',
            seg_map_suffix='.png', **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.labels_from:
            entries = read_label_list(self.labels_from, self.num_classes - 1)
            return self._data_list([n for n, _ in entries], [ids for _, ids in entries])
        if self.split == 'train_aug' and not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'split list {self.ann_file} not found: make it (and SegmentationClassAug) from '
                'SBD with tools/dataset_converters/voc_aug.py')
        names = self.read_name_list()
        if self.label_source == 'mask':
            labels = labels_from_masks(self._seg_paths(names), self.num_classes)
        elif self.label_source == 'none':
            labels = [[] for _ in names]
        else:
            labels = [self._labels_from_xml(n) for n in names]
        return self._data_list(names, labels)

    def _seg_paths(self, names: List[str]) -> List[str]:
        return [osp.join(self.data_prefix['seg_map_path'], n + self.seg_map_suffix)
                for n in names]

    def _data_list(self, names: List[str], labels: List[List[int]]) -> List[dict]:
        img_dir = self.data_prefix['img_path']
        return [
            self.make_data_info(osp.join(img_dir, n + self.img_suffix), n, ids,
                                seg_map_path=p if osp.isfile(p) else None)
            for n, ids, p in zip(names, labels, self._seg_paths(names))
        ]

    def _labels_from_xml(self, name: str) -> List[int]:
        path = osp.join(self.data_root or '', 'Annotations', name + '.xml')
        index = class_index(self.metainfo['classes'])
        try:
            objects = ET.parse(path).getroot().findall('object')
        except (OSError, ET.ParseError) as e:
            raise ValueError(f'cannot read annotation {path}: {e}') from e
        ids = set()
        for obj in objects:
            cls = (obj.findtext('name') or '').strip()
            if cls not in index:
                raise ValueError(f'{path}: unknown class {cls!r}')
            ids.add(index[cls])
        return sorted(ids)
