"""Datasets: VOC12, COCO14, folders of images, seeds as stage-two training data, TUSS's mask
embeddings; the samplers of resumable jobs and of the TUSS probe."""
from .base import WSSSDataset
from .class_names import COCO14_CLASSES, DATASET_CLASSES, VOC12_CLASSES, with_background
from .coco import COCO14Dataset, coco_semantic_mask
from .folder import ImageFolderDataset
from .mask_embeddings import MaskEmbeddingDataset, soft_labels
from .pseudo_label import PseudoLabelDataset
from .samplers import (
    GlobalBatchSampler,
    PendingMaskStoreSampler,
    PendingSampler,
    PendingSeedSampler,
    SemiBalanceSampler,
)
from .transforms import ImageLoadError, LoadImage, LoadLabelMap, PackWSSSInputs, ResizeToMultiple
from .voc import VOC12Dataset

__all__ = [
    'WSSSDataset', 'VOC12Dataset', 'COCO14Dataset', 'ImageFolderDataset', 'PseudoLabelDataset',
    'MaskEmbeddingDataset', 'soft_labels', 'PendingSampler', 'PendingSeedSampler',
    'PendingMaskStoreSampler', 'GlobalBatchSampler', 'SemiBalanceSampler', 'LoadImage',
    'LoadLabelMap', 'PackWSSSInputs', 'ResizeToMultiple', 'ImageLoadError',
    'coco_semantic_mask', 'VOC12_CLASSES', 'COCO14_CLASSES', 'DATASET_CLASSES',
    'with_background', 'dataset_config'
]


def dataset_config(name: str, data_root: str, split: str, **kwargs) -> dict:
    """Config of a dataset by the short names the tools take: voc12, coco14."""
    types = dict(voc12='VOC12Dataset', coco14='COCO14Dataset')
    if name not in types:
        raise ValueError(f'unknown dataset {name!r}; one of {sorted(types)}')
    return dict(type=types[name], data_root=data_root, split=split, **kwargs)
