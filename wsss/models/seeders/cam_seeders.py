"""CAM -> seed by argmax against a background score, optionally through a dense CRF."""
from typing import Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch

from ...registry import SEEDERS
from ..clip_es.cam import cams_to_seed
from .base import Seeder


@SEEDERS.register_module()
class ArgmaxSeeder(Seeder):
    """Background score (1 - max_c M_c)^bg_power; seed = argmax over [background, M...]."""

    def __init__(self, bg_power: float = 1.0) -> None:
        self.bg_power = bg_power

    def __call__(self, cams: torch.Tensor, class_ids: Sequence[int],
                 metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
        return cams_to_seed(cams, class_ids, self.bg_power)


@SEEDERS.register_module()
class CRFSeeder(Seeder):
    """Dense CRF over [(1 - max M)^bg_power, M...], then CLIP-ES's confidence-guided loss: pixels
    whose posterior is below ``confidence_threshold`` become 255.

    ``released``: compute what CLIP-ES's released CRF script computes: its CAMs are read from
    the fp16 files the CAM script stores (and its unary computed in fp16), and pydensecrf sees the
    BGR image minus the mean, wrapped to uint8 (:func:`wsss.models.crf.crf_image`). None (the
    default) follows the stage-one model's ``released`` switch (:meth:`follow_model`); False is
    the clean path (fp32 CAMs, the image itself).
    ``crf``: keyword arguments of :func:`wsss.models.crf.dense_crf` (iterations, kernels).
    """

    def __init__(self, bg_power: float = 1.0, confidence_threshold: float = 0.95,
                 released: Optional[bool] = None, **crf) -> None:
        from ..crf import crf_seed  # the crf extra is needed only by configs that use it
        self._crf_seed = crf_seed
        self.bg_power, self.confidence_threshold, self.crf = bg_power, confidence_threshold, crf
        self.released = released

    def follow_model(self, released: bool) -> None:
        if self.released is None:
            self.released = released

    @property
    def reads_float16(self) -> bool:
        """Whether it rounds its CAMs to float16 (``released``): then float16 CAM files give
        the seeds of float32 ones (generate_seeds.py --cams-only stores them so, at half the
        disk)."""
        return bool(self.released)

    def __call__(self, cams: torch.Tensor, class_ids: Sequence[int],
                 metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
        image = mmcv.imread(metainfo['img_path'], channel_order='rgb')
        if self.released:
            cams = cams.half()
        cams = cams.float().cpu().numpy()
        return self._crf_seed(image, cams, class_ids, bg_power=self.bg_power,
                              confidence_threshold=self.confidence_threshold,
                              released=bool(self.released), **self.crf)
