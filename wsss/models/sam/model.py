"""The mmengine model that generates SAM masks in a test loop (tools/sam_masks.py)."""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModel
from mmseg.structures import SegDataSample

from ...registry import MODELS
from .build import build_sam
from .generator import LevelAwareMaskGenerator, pack_dense


@MODELS.register_module()
class SAMMaskModel(BaseModel):
    """SAM automatic masks of each image of a batch, one image at a time (each at its own size).

    Predict mode takes the images as (3, H, W) uint8 BGR tensors (``LoadImage`` ->
    ``PackWSSSInputs``) and returns their data samples with ``sam_masks``: the records of
    :class:`LevelAwareMaskGenerator` (COCO RLE, level, predicted IoU, stability score, ...),
    or, with ``defer_finish``, what :class:`SAMMaskWriter` turns into them.
    Samples the loader marked ``load_error`` are returned untouched.

    Args:
        sam: arguments of :func:`build_sam` (model_type, checkpoint, model_cfg).
        generator: arguments of :class:`LevelAwareMaskGenerator`; FMA-WSSS's settings by default.
        defer_finish: return each image's dense masks (``sam_dense``, :func:`pack_dense`) and
            leave their clean-up, filter and encoding (:func:`finish_masks`) to the writer's
            worker processes, so that the device goes on to the next image; the files are the
            same either way. False: ``sam_masks`` records, finished here.
    """

    def __init__(self, sam: Dict, generator: Optional[Dict] = None,
                 data_preprocessor: Optional[Dict] = None, defer_finish: bool = True) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.sam = build_sam(**sam)
        self.generator = LevelAwareMaskGenerator(self.sam, **(generator or {}))
        self.defer_finish = defer_finish

    def predict(self, inputs: List[torch.Tensor],
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        for image, sample in zip(inputs, data_samples):
            if 'load_error' in sample.metainfo:  # an image the loader could not decode
                continue
            rgb = image.flip(0).permute(1, 2, 0).contiguous().cpu().numpy()  # SAM wants RGB HWC
            if self.defer_finish:
                sample.sam_dense = pack_dense(self.generator.generate_dense(rgb))
                sample.sam_finish = self.generator.finish_settings()
            else:
                sample.sam_masks = self.generator.generate(rgb)
        return data_samples

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode in ('predict', 'tensor'):
            return self.predict(inputs, data_samples)
        raise ValueError(f'{type(self).__name__} only infers: mode {mode!r} is not supported; '
                         'generate masks with tools/sam_masks.py')
