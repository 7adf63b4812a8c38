"""The dense CRF of stage one on stage two's predictions (``tools/test.py --crf``).

The WSSS literature reports stage-two results "+CRF": the segmentor's class probabilities, after
single-scale or multi-scale + flip inference, refined by a fully connected CRF on the image, then
the argmax. :class:`DenseCRFTestModel` does this with :func:`wsss.models.crf.dense_crf`, the
function stage one's CRF seeds use. It extends mmseg's ``SegTTAModel``: with several views of
each image (``multi_view``, the config's ``tta_pipeline``) their probabilities are averaged as
``SegTTAModel`` averages them before the CRF; with one view (the plain test pipeline) the CRF
refines the segmentor's own prediction.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine import fileio
from mmengine.structures import PixelData
from mmseg.models import SegTTAModel
from mmseg.structures import SegDataSample

from ...datasets.transforms import read_image_bytes
from ...registry import MODELS
from ..crf import dense_crf

PROBABILITIES = ('softmax', 'normalize')


def seg_probabilities(seg_logits: torch.Tensor, probs: str = 'softmax') -> torch.Tensor:
    """(C, H, W) class probabilities from a segmentor's ``seg_logits`` (C, H, W).

    ``'softmax'``: the softmax over classes, for decode heads that output logits (every mmseg
    head but Mask2Former's; ``SegTTAModel`` averages these). ``'normalize'``: the scores divided
    by their sum, for Mask2Former, whose ``seg_logits`` are already non-negative scores (the sum
    over queries of class probability x mask probability, mostly within [0, 1]) that a softmax
    would flatten to nearly uniform probabilities, and so hand the CRF almost no unary term.
    """
    if probs == 'softmax':
        return seg_logits.float().softmax(dim=0)
    if probs == 'normalize':
        scores = seg_logits.float().clamp(min=0)
        return scores / scores.sum(dim=0, keepdim=True).clamp(min=torch.finfo(scores.dtype).eps)
    raise ValueError(f'probs must be one of {PROBABILITIES}, got {probs!r} (crf_model.probs)')


def read_rgb(path: str) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 RGB, decoded as the test pipeline's LoadImage."""
    return np.ascontiguousarray(read_image_bytes(path, fileio.get(path))[:, :, ::-1])


@MODELS.register_module()
class DenseCRFTestModel(SegTTAModel):
    """A segmentor whose test predictions are refined by a dense CRF on the original image.

    Args:
        module: the segmentor (config or module).
        crf: keyword arguments of :func:`wsss.models.crf.dense_crf` (iterations, kernel widths
            and weights); its defaults when empty.
        probs: how ``seg_logits`` become probabilities, see :func:`seg_probabilities`.
        multi_view: the test pipeline gives several views of each image (``TestTimeAug``);
            their probabilities are averaged (with ``probs='softmax'`` exactly as mmseg's
            ``SegTTAModel`` does) before the CRF.

    The CRF sees the probabilities at the original image size (mmseg resizes ``seg_logits``
    back to ``ori_shape``) and the original image, read again from ``img_path``. The GT of the
    sample is kept as it is, so the metric still ignores its 255 pixels.
    """

    def __init__(self, module: dict, crf: Optional[dict] = None, probs: str = 'softmax',
                 multi_view: bool = False, data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if probs not in PROBABILITIES:
            raise ValueError(f'probs must be one of {PROBABILITIES}, got {probs!r} '
                             '(crf_model.probs)')
        self.crf = dict(crf or {})
        self.probs = probs
        self.multi_view = multi_view

    def test_step(self, data) -> List[SegDataSample]:
        if self.multi_view:
            return super().test_step(data)  # one forward per view, then merge_preds
        return self.merge_preds([[sample] for sample in self.module.test_step(data)])

    def merge_preds(self, data_samples_list: Sequence[Sequence[SegDataSample]]
                    ) -> List[SegDataSample]:
        """One refined prediction per image from the predictions of its views."""
        merged = []
        for views in data_samples_list:
            probs = torch.stack([seg_probabilities(v.seg_logits.data, self.probs)
                                 for v in views]).mean(dim=0)
            first = views[0]
            image = read_rgb(first.img_path)
            if image.shape[:2] != tuple(probs.shape[1:]):
                raise ValueError(f'{first.img_path}: image is {image.shape[:2]}, the prediction '
                                 f'{tuple(probs.shape[1:])}')
            posterior = dense_crf(image, probs.cpu().numpy(), **self.crf)
            pred = torch.from_numpy(posterior.argmax(axis=0)[None]).to(probs.device)
            sample = SegDataSample(metainfo=first.metainfo)
            sample.pred_sem_seg = PixelData(data=pred)
            if 'gt_sem_seg' in first:
                sample.gt_sem_seg = first.gt_sem_seg
            merged.append(sample)
        return merged
