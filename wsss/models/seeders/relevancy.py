"""Relevancy maps -> seed through SAM clicks (docs/relevancy.md §5-7)."""
from typing import Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from segment_anything import SamPredictor
from torch import nn

from ...registry import SEEDERS
from ..relevancy import relevancy_clicks, relevancy_seed
from ..sam.build import build_sam


@SEEDERS.register_module()
class RelevancySeeder(nn.Module):
    """Seeds from relevancy maps with SAM as the single-image segmenter.

    Per image: SAM's image embedding once (``SamPredictor.set_image`` on the image of
    ``metainfo['img_path']``, RGB, original size), shared by all its classes; per class, its
    clicks (:func:`relevancy_clicks`) as positive points, ``multimask_output=False`` (SAM's
    advice for one object given by several points); then :func:`relevancy_seed`: overlaps go to
    the class of higher relevancy, uncovered pixels are background.

    An ``nn.Module`` so that SAM moves with the stage-one model to its device.

    Args:
        sam: arguments of :func:`wsss.models.sam.build_sam` (model_type, checkpoint, model_cfg).
        num_clicks: clicks per class.
        click_factor: the resize factor of the maps before the peak search.
    """

    def __init__(self, sam: Dict, num_clicks: int = 3, click_factor: float = 0.5) -> None:
        super().__init__()
        if num_clicks < 1:
            raise ValueError(f'num_clicks must be at least 1, got {num_clicks}')
        self.sam = build_sam(**sam)
        self.predictor = SamPredictor(self.sam)
        self.num_clicks, self.click_factor = num_clicks, click_factor

    def clicks(self, cams: torch.Tensor) -> torch.Tensor:
        """(K, n, 2) clicks (x, y) of (K, H, W) maps."""
        return relevancy_clicks(cams, self.num_clicks, self.click_factor)

    def masks(self, image: np.ndarray, clicks: torch.Tensor) -> np.ndarray:
        """(K, H, W) bool SAM masks of an (H, W, 3) uint8 RGB image, one per class from its
        (n, 2) clicks."""
        self.predictor.set_image(image, image_format='RGB')
        masks = []
        for points in clicks.cpu().numpy():
            mask, _, _ = self.predictor.predict(point_coords=points.astype(np.float32),
                                                point_labels=np.ones(len(points), np.int64),
                                                multimask_output=False)
            masks.append(mask[0])
        self.predictor.reset_image()
        return np.stack(masks)

    def forward(self, cams: torch.Tensor, class_ids: Sequence[int], metainfo: dict,
                clicks: Optional[torch.Tensor] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Seed and confidence from (K, H, W) maps in [0, 1] of ``class_ids``; ``clicks``: those
        of :meth:`clicks`, when already computed."""
        cams = cams.float().cpu()
        if len(cams) == 0:
            return relevancy_seed(cams, torch.zeros(cams.shape, dtype=torch.bool), class_ids)
        image = mmcv.imread(metainfo['img_path'], channel_order='rgb')
        if image.shape[:2] != tuple(cams.shape[-2:]):
            raise ValueError(f"{metainfo['img_path']}: image of size {image.shape[:2]}, maps of "
                             f'size {tuple(cams.shape[-2:])}')
        masks = self.masks(image, self.clicks(cams) if clicks is None else clicks)
        return relevancy_seed(cams, torch.from_numpy(masks), class_ids)
