"""Relevancy maps -> seed through SAM clicks (docs/relevancy.md §5-7): the clicks from each
map's peaks, one SAM mask per class from its clicks, and the seed from the masks."""
from typing import Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from segment_anything import SamPredictor
from torch import nn

from ...registry import SEEDERS
from ..sam.build import build_sam
from ..seeders.base import ClickSeeder


def relevancy_clicks(relevancy: torch.Tensor, num_clicks: int = 3,
                     factor: float = 0.5) -> torch.Tensor:
    """Click points (x, y) in image pixel coordinates from the peaks of each map
    (docs/relevancy.md §5).

    Each map is resized by ``factor`` (bilinear, align_corners=False, the scale factor kept for
    the coordinates; for 0.5 the mean of each 2×2 block); its peaks are the cells equal to the
    3×3 max-pool and above the map's minimum (a flat floor is no peak); the ``num_clicks``
    highest, ties in raster order, are the clicks, filled up with the highest other cells when
    there are fewer peaks (a constant map: the first cells in raster order). Cell (r, c) maps
    back to x = (c + 0.5) / factor - 0.5, y = (r + 0.5) / factor - 0.5 (pixel centres at
    integers).

    Args:
        relevancy: (K, H, W) maps.

    Returns:
        (K, n, 2) float32 (x, y), n = min(num_clicks, cells of the resized map).
    """
    h, w = (int(side * factor) for side in relevancy.shape[-2:])
    if h * w == 0:
        raise ValueError(f'a {tuple(relevancy.shape[-2:])} map has no cell at resize factor '
                         f'{factor}')
    if len(relevancy) == 0:
        return relevancy.new_zeros(0, min(num_clicks, h * w), 2, dtype=torch.float32)
    small = F.interpolate(relevancy[:, None].float(), scale_factor=factor, mode='bilinear',
                          align_corners=False)[:, 0]  # (K, h, w)
    flat = small.flatten(1)
    peaks = (small == F.max_pool2d(small[:, None], 3, stride=1, padding=1)[:, 0]).flatten(1)
    peaks &= flat > flat.min(dim=1, keepdim=True).values
    order = flat.argsort(dim=1, descending=True, stable=True)  # by value, ties in raster order
    order = order.gather(1, (~peaks.gather(1, order)).int().argsort(dim=1, stable=True))
    cells = order[:, :num_clicks]
    rows, cols = torch.div(cells, w, rounding_mode='floor'), cells % w
    return torch.stack([(cols + 0.5) / factor - 0.5, (rows + 0.5) / factor - 0.5], dim=-1)


def relevancy_seed(relevancy: torch.Tensor, masks: torch.Tensor,
                   class_ids: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Seed from the classes' segmenter masks (docs/relevancy.md §7): a pixel covered by class
    masks gets the class whose relevancy is highest there among them; a pixel in no mask is
    background (0).

    Confidence: the winning class's relevancy; at background pixels 1 - the highest relevancy.

    Args:
        relevancy: (K, H, W) maps in [0, 1].
        masks: (K, H, W) bool, class k's mask.
        class_ids: the class id (1..C) of each row.

    Returns:
        uint8 seed (H, W) and float32 confidence (H, W).
    """
    relevancy = torch.as_tensor(relevancy).float().cpu()
    masks = torch.as_tensor(masks, dtype=torch.bool).cpu()
    if len(relevancy) != len(class_ids) or masks.shape != relevancy.shape:
        raise ValueError(f'{len(class_ids)} class ids, relevancy {tuple(relevancy.shape)} and '
                         f'masks {tuple(masks.shape)} do not match')
    if len(relevancy) == 0:
        size = relevancy.shape[-2:]
        return np.zeros(size, np.uint8), np.ones(size, np.float32)
    best, index = relevancy.masked_fill(~masks, float('-inf')).max(dim=0)
    covered = masks.any(dim=0)
    ids = torch.tensor(list(class_ids), dtype=torch.uint8)
    seed = torch.where(covered, ids[index], torch.zeros((), dtype=torch.uint8))
    confidence = torch.where(covered, best, 1 - relevancy.max(dim=0).values)
    return seed.numpy(), confidence.numpy()


@SEEDERS.register_module()
class RelevancySeeder(nn.Module, ClickSeeder):
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
