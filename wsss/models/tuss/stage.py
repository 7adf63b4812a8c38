"""What every TUSS stage model shares: its image's SAM masks, painting and the stored scores."""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from ...datasets.transforms import IMAGE_ERRORS, mark_failed
from ...io.sam_masks import image_masks
from ...io.seeds import IGNORE_INDEX
from ...utils.memory import is_out_of_memory, out_of_memory_reason
from ..seeders.sams import paint_masks
from .seed_on_logits import MaskSeeds


def gt_vote_fractions(masks: np.ndarray, gt: np.ndarray, num_classes: int) -> np.ndarray:
    """(M, K) fraction of each mask's pixels in each GT class (``sp_lb_vote_prob``); ignore
    pixels are dropped, a mask made only of them gets a zero row."""
    if masks.shape[1:] != gt.shape:
        raise ValueError(f'GT of size {gt.shape} for masks of size {masks.shape[1:]}')
    valid = gt != IGNORE_INDEX
    onehot = np.eye(num_classes, dtype=np.float64)[np.where(valid, gt, 0).ravel()]
    onehot[~valid.ravel()] = 0
    counts = masks.reshape(len(masks), -1).astype(np.float64) @ onehot
    total = counts.sum(axis=1, keepdims=True)
    return (counts / np.maximum(total, 1)).astype(np.float32)


def gt_seeds(fractions: torch.Tensor) -> MaskSeeds:
    """Labelled images (full / semi supervision): the GT vote fractions are the scores, over
    all classes; a mask's label is its majority class."""
    class_ids = torch.arange(fractions.shape[1])
    confidence, index = fractions.max(dim=1) if len(fractions) else (
        fractions.new_zeros(0), class_ids.new_zeros(0))
    return MaskSeeds(scores=fractions, labels=class_ids[index], confidence=confidence,
                     class_ids=class_ids)


def kept_classes(cls_lb: np.ndarray) -> List[int]:
    """The 0-based foreground classes of a ``cls_lb`` row (column 0 is background)."""
    return (np.flatnonzero(np.asarray(cls_lb)[1:])).tolist()


class TUSSStageModel(BaseModel):
    """Base of the TUSS stage models run by tools/generate_seeds.py: each labels an image's SAM
    masks, paints them (:func:`paint_masks`, the SAMS order; uncovered pixels 0, no ignore) and
    returns data samples with ``pred_sem_seg``, ``seed_confidence`` and ``mask_store`` (the
    arrays :class:`wsss.evaluation.MaskStoreWriter` writes)."""

    reads_images = False  # the GLCC steps read the masks and the store, not the image
    # what to lower when an image runs out of memory (models that read images)
    memory_setting = 'the image\'s size'

    def __init__(self, mask_dir: str, data_preprocessor: Optional[Dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.mask_dir = mask_dir

    def load_masks(self, img_name: str, size: Optional[Tuple[int, int]] = None
                   ) -> Tuple[List[dict], torch.Tensor]:
        """The mask records and (M, H0, W0) bool masks of an image; ``size``: the image's
        (H0, W0) when known, checked against the file's."""
        records, masks = image_masks(self.mask_dir, img_name, size, 'model.mask_dir')
        return records, torch.from_numpy(masks)

    def finish(self, sample: SegDataSample, masks: torch.Tensor, records: List[dict],
               seeds: MaskSeeds, store: Dict[str, np.ndarray]) -> None:
        """Paint the seed and attach it, its confidence and the stored arrays to ``sample``."""
        H, W = masks.shape[-2:]
        flat = masks.reshape(len(masks), H * W)
        # index 0 of the lookups: the pixels no mask covers (paint_masks' -1)
        index = paint_masks(flat, seeds.confidence, [r['level'] for r in records]).numpy() + 1
        labels = np.concatenate([[0], seeds.labels.cpu().numpy()]).astype(np.uint8)
        scores = np.concatenate([[0], seeds.confidence.float().cpu().numpy()]).astype(np.float32)
        seed, confidence = torch.from_numpy(labels[index]), torch.from_numpy(scores[index])
        sample.pred_sem_seg = PixelData(data=seed.view(1, H, W))
        sample.seed_confidence = PixelData(data=confidence.clamp(0, 1).view(1, H, W))
        K = self.num_classes
        sample.mask_store = dict(store, scores=seeds.full_scores(K).float().cpu().numpy(),
                                 cls_lb=seeds.class_mask(K).numpy())

    def predict(self, inputs, data_samples: List[SegDataSample]) -> List[SegDataSample]:
        """:meth:`predict_one` for each sample; a sample whose image or per-image input (SAM
        masks, a store file) cannot be read, or whose image runs out of memory, is left with
        ``load_error``, and the job goes on; a mask folder that does not exist is a wrong
        setting, and stops it."""
        if self.mask_dir and not osp.isdir(self.mask_dir):
            raise FileNotFoundError(f'SAM mask folder {self.mask_dir} not found: make the masks '
                                    'with tools/sam_masks.py, or set model.mask_dir')
        images = inputs if self.reads_images else [None] * len(data_samples)
        for image, sample in zip(images, data_samples):
            if 'load_error' in sample.metainfo:
                continue
            try:
                self.predict_one(image, sample)
            except IMAGE_ERRORS as e:
                mark_failed(sample, e)
            except Exception as e:  # noqa: BLE001  one image out of memory ends nothing else
                if image is None or not is_out_of_memory(e):
                    raise
                sample.set_metainfo(dict(load_error=out_of_memory_reason(
                    sample.metainfo.get('img_path', '?'), tuple(image.shape[-2:]),
                    self.memory_setting)))
        return data_samples

    def predict_one(self, image: Optional[torch.Tensor], sample: SegDataSample) -> None:
        """Label one image's masks and :meth:`finish` its sample."""
        raise NotImplementedError

    def forward(self, inputs=None, data_samples=None, mode: str = 'predict'):
        if mode in ('predict', 'tensor'):
            return self.predict(inputs, data_samples)
        raise ValueError(f'{type(self).__name__} only infers: mode {mode!r} is not supported; '
                         'run it with tools/generate_seeds.py')
