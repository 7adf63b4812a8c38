"""A seeder with an ignore band: confident pixels become seed, unsure ones are left out.

A pixel whose highest class map reaches ``high`` takes that class; one whose highest map stays
below ``low`` is background; the pixels in between are 255 (ignore), so stage two does not train
on them. Ties go to the first class of the image (the lowest class id).
"""
from typing import Sequence, Tuple

import numpy as np
import torch

from wsss.models.seeders import Seeder
from wsss.registry import SEEDERS

IGNORE = 255


@SEEDERS.register_module()
class TwoThresholdSeeder(Seeder):
    """seed = class of the highest map where it is >= high, 0 where it is < low, else 255.

    Confidence: the highest map on class pixels, 1 - it on background, 0 where ignored.
    """

    def __init__(self, low: float = 0.3, high: float = 0.6) -> None:
        if not 0 <= low <= high <= 1:
            raise ValueError(f'need 0 <= low <= high <= 1, got low={low}, high={high}: '
                             'set model.seeder.low / model.seeder.high')
        self.low, self.high = low, high

    def __call__(self, cams: torch.Tensor, class_ids: Sequence[int],
                 metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
        cams = cams.float().cpu().numpy()
        if len(cams) == 0:  # an image without labels: all background
            return np.zeros(cams.shape[1:], np.uint8), np.ones(cams.shape[1:], np.float32)
        best = cams.max(axis=0)
        winner = np.asarray(class_ids, np.uint8)[cams.argmax(axis=0)]  # first class on ties
        seed = np.where(best >= self.high, winner, np.where(best < self.low, 0, IGNORE))
        confidence = np.select([seed == IGNORE, seed == 0], [0, 1 - best], best)
        return seed.astype(np.uint8), confidence.astype(np.float32)
