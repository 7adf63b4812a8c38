"""The mmengine model that generates SAM masks in a test loop (tools/sam_masks.py)."""
from typing import Any, Dict, List, Optional, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.model import BaseModel
from mmseg.structures import SegDataSample
from pycocotools import mask as mask_utils

from ...datasets.transforms import bounded_scale
from ...registry import MODELS
from ...utils.memory import is_out_of_memory, out_of_memory_reason
from .build import build_sam
from .generator import LevelAwareMaskGenerator, pack_dense


@MODELS.register_module()
class SAMMaskModel(BaseModel):
    """SAM automatic masks of each image of a batch, one image at a time (each at its own size).

    Predict mode takes the images as (3, H, W) uint8 BGR tensors (``LoadImage`` ->
    ``PackWSSSInputs``) and returns their data samples with ``sam_masks``: the records of
    :class:`LevelAwareMaskGenerator` (COCO RLE, level, predicted IoU, stability score, ...),
    or, with ``defer_finish``, what :class:`SAMMaskWriter` turns into them.
    Samples the loader marked ``load_error`` are returned untouched; an image that runs out of
    memory is marked ``load_error`` (listed in failed.json) and the job goes on.

    Args:
        sam: arguments of :func:`build_sam` (model_type, checkpoint, model_cfg).
        generator: arguments of :class:`LevelAwareMaskGenerator`; FMA-WSSS's settings by default.
        max_long_side: images whose long side is longer are scaled down to it (OpenCV's area
            filter) for the generator, and their masks scaled back to the image's size (nearest)
            before they are stored; boxes, areas and points follow. SAM sees at most 1024 pixels
            a side per crop anyway, but the generator upsamples every candidate mask to the crop's
            size: a 24 MP photo would need up to ~18 GB per batch of 64 points (float32 logits of
            3 masks a point). 1024 (the default) leaves every VOC and COCO image (at most 640)
            untouched. None: no bound.
        defer_finish: return each image's dense masks (``sam_dense``, :func:`pack_dense`) and
            leave their clean-up, filter and encoding (:func:`finish_masks`) to the writer's
            worker processes, so that the device goes on to the next image; the files are the
            same either way. False: ``sam_masks`` records, finished here. An image scaled down
            by ``max_long_side`` is always finished here, where its masks are scaled back.
    """

    def __init__(self, sam: Dict, generator: Optional[Dict] = None,
                 max_long_side: Optional[int] = 1024,
                 data_preprocessor: Optional[Dict] = None, defer_finish: bool = True) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.sam = build_sam(**sam)
        self.generator = LevelAwareMaskGenerator(self.sam, **(generator or {}))
        self.max_long_side, self.defer_finish = max_long_side, defer_finish

    def predict(self, inputs: List[torch.Tensor],
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        for image, sample in zip(inputs, data_samples):
            if 'load_error' in sample.metainfo:  # an image the loader could not decode
                continue
            rgb = image.flip(0).permute(1, 2, 0).contiguous().cpu().numpy()  # SAM wants RGB HWC
            try:
                if self.defer_finish and bounded_scale(rgb.shape[:2], 1.0,
                                                       self.max_long_side) == 1.0:
                    sample.sam_dense = pack_dense(self.generator.generate_dense(rgb))
                    sample.sam_finish = self.generator.finish_settings()
                else:
                    sample.sam_masks = self.generate(rgb)
            except Exception as e:  # noqa: BLE001  one image out of memory ends nothing else
                if not is_out_of_memory(e):
                    raise
                sample.set_metainfo(dict(load_error=out_of_memory_reason(
                    sample.metainfo.get('img_path', '?'), rgb.shape[:2],
                    'model.max_long_side')))
        return data_samples

    def generate(self, rgb: np.ndarray) -> List[Dict[str, Any]]:
        """The generator's records of an RGB (H, W, 3) image at the bounded size, at (H, W)."""
        size = rgb.shape[:2]
        scale = bounded_scale(size, 1.0, self.max_long_side)
        if scale == 1.0:
            return self.generator.generate(rgb)
        small = mmcv.imresize(rgb, (max(1, round(size[1] * scale)), max(1, round(size[0] * scale))),
                              interpolation='area')
        return [rescale_record(r, size) for r in self.generator.generate(small)]

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode in ('predict', 'tensor'):
            return self.predict(inputs, data_samples)
        raise ValueError(f'{type(self).__name__} only infers: mode {mode!r} is not supported; '
                         'generate masks with tools/sam_masks.py')


def rescale_record(record: Dict[str, Any], size: Tuple[int, int]) -> Dict[str, Any]:
    """A generator record (COCO RLE mask, bbox, area, point, crop box) at another image size:
    the mask resized nearest to ``size`` (H, W), the rest computed again or scaled."""
    mask = mask_utils.decode(record['segmentation'])
    (h, w), (h0, w0) = size, mask.shape
    big = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    rle = mask_utils.encode(np.asfortranarray(big))
    rle['counts'] = rle['counts'].decode()
    sx, sy = w / w0, h / h0
    out = dict(record, segmentation=rle, area=int(mask_utils.area(rle)),
               bbox=[float(v) for v in mask_utils.toBbox(rle)])
    if 'point_coords' in record:
        out['point_coords'] = [[x * sx, y * sy] for x, y in record['point_coords']]
    if 'crop_box' in record:  # XYWH
        out['crop_box'] = [round(v * s) for v, s in zip(record['crop_box'], (sx, sy, sx, sy))]
    return out
