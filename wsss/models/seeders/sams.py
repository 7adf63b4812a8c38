"""SAMS (FMA-WSSS): seeds from CAMs scored over SAM masks rather than pixels."""
from typing import Sequence, Tuple

import numpy as np
import torch

from ...io.sam_masks import image_masks
from ...registry import SEEDERS
from .base import Seeder

PAINT_BLOCK = 8192  # pixels painted at a time


def paint_masks(masks: torch.Tensor, confidence: torch.Tensor,
                levels: Sequence[int]) -> torch.Tensor:
    """The SAMS painting order (also TUSS's, ``priority=('level_bigger', 'conf_bigger')``):
    masks sorted ascending by (level, confidence) and painted in that order, later ones over
    earlier ones, so whole-level and confident masks win where masks overlap.

    Args:
        masks: (N, P) bool masks over P pixels.
        confidence: (N,) mask confidences.
        levels: (N,) mask levels: 0 sub-part, 1 part, 2 whole.

    Returns:
        (P,) long: index of the mask that shows at each pixel, -1 where no mask covers it.
    """
    if len(masks) == 0:
        return torch.full((masks.shape[1],), -1, dtype=torch.long)
    levels = torch.as_tensor(levels, dtype=torch.float64).cpu()
    confidence = confidence.double().cpu()
    order = torch.argsort(confidence, stable=True)
    order = order[torch.argsort(levels[order], stable=True)].numpy()  # by level, then confidence
    # Each pixel shows its covering mask of highest painting rank: the maximum over the masks of
    # mask * rank, with ranks in the smallest integer type that holds them, a block of pixels at
    # a time (numpy's maximum over rows is one sequential pass; the block bounds the memory).
    rank_type = np.min_scalar_type(len(order))
    rank = np.empty(len(order), rank_type)
    rank[order] = np.arange(1, len(order) + 1)
    rank = rank[:, None]
    flat = masks.cpu().bool().numpy()
    top = np.empty(flat.shape[1], rank_type)
    for s in range(0, flat.shape[1], PAINT_BLOCK):
        np.multiply(flat[:, s:s + PAINT_BLOCK], rank, dtype=rank_type).max(
            axis=0, out=top[s:s + PAINT_BLOCK])
    return torch.from_numpy(np.concatenate([[-1], order])[top])


def sams_seed(cams: torch.Tensor, class_ids: Sequence[int], masks: torch.Tensor,
              levels: Sequence[int], bg_power: float = 0.6) -> Tuple[np.ndarray, np.ndarray]:
    """Label each SAM mask from the CAMs and paint the masks into a seed.

    Each mask's score for class c is the mean of CAM_c (clamped at 0) inside it; the scores of a
    class are min-max normalised across the image's masks; the mask's background score is
    (1 - max_c score)^bg_power; its label is the argmax, its confidence that maximum. Masks are
    painted in ascending (level, confidence) order, so whole-level and confident masks win where
    masks overlap. Pixels that no mask covers are background, with the pixel-level background
    score (1 - max_c CAM)^bg_power as confidence.

    Args:
        cams: (K, H, W) CAMs of the labelled classes at image size.
        class_ids: their class ids (1..C).
        masks: (N, H, W) bool SAM masks.
        levels: (N,) mask levels: 0 sub-part, 1 part, 2 whole.
        bg_power: 0.6 for coarse seeds, 0.7 for fine ones in FMA-WSSS.

    Returns:
        uint8 seed (H, W) with 0 background and the class ids, and float32 confidence (H, W).
    """
    cams = torch.as_tensor(cams).float().clamp(min=0)
    H, W = cams.shape[-2:]
    pixel_top = cams.max(dim=0).values if len(cams) else torch.zeros(H, W)
    seed = torch.zeros(H, W, dtype=torch.uint8)
    confidence = (1 - pixel_top).clamp(min=0).pow(bg_power)
    masks = torch.as_tensor(masks, dtype=torch.bool).reshape(-1, H * W)
    if len(masks) == 0 or len(cams) == 0:  # nothing to paint but background
        return seed.numpy(), confidence.numpy()
    area = masks.sum(dim=1, dtype=torch.int32).clamp(min=1)  # 10x faster than int64's sum
    scores = masks.float() @ cams.reshape(len(cams), -1).t() / area[:, None]  # (N, K)
    low, high = scores.min(dim=0).values, scores.max(dim=0).values
    scores = (scores - low) / (high - low + 1e-7)
    top = scores.max(dim=1).values
    scores = torch.cat([(1 - top).clamp(min=0).pow(bg_power)[:, None], scores], dim=1)
    mask_conf, index = scores.max(dim=1)
    mask_label = torch.tensor([0, *map(int, class_ids)], dtype=torch.uint8)[index]

    winner = paint_masks(masks, mask_conf, levels).numpy().reshape(H, W)
    covered = winner >= 0  # where not, the lookups' index -1 is discarded
    return (np.where(covered, mask_label.numpy()[winner], seed.numpy()),
            np.where(covered, mask_conf.numpy()[winner], confidence.numpy()))


@SEEDERS.register_module()
class SAMSSeeder(Seeder):
    """SAMS with the SAM masks of ``mask_dir`` (``<img_name>.json``, tools/sam_masks.py).

    Takes raw CAMs too (``raw_cam`` models): it clamps them at 0 and normalises each class's mask
    scores across the image's masks, as FMA-WSSS's released seeding does."""

    takes_raw_cams = True

    def __init__(self, mask_dir: str, bg_power: float = 0.6) -> None:
        self.mask_dir, self.bg_power = mask_dir, bg_power

    def __call__(self, cams: torch.Tensor, class_ids: Sequence[int],
                 metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
        records, masks = image_masks(self.mask_dir, metainfo['img_name'],
                                     tuple(cams.shape[-2:]), 'model.seeder.mask_dir')
        return sams_seed(cams.float().cpu(), class_ids, torch.from_numpy(masks),
                         [r['level'] for r in records], self.bg_power)
