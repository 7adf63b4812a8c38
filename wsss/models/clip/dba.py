"""DBA-CLIP dense features of an image and its SAM masks (TUSS, docs/tuss.md §2-3).

- :func:`tuss_input_size`: short side 448, sides rounded up to multiples of 16 (§2);
- :func:`mask_bias`: the discrimination bias B from the SAM masks (§3.2);
- :func:`window_boxes` and :class:`DBAFeatureExtractor`: 224 windows at stride 56, averaged at
  full resolution and mixed 0.5/0.5 with a global pass (§3.3), the windows batched;
- :func:`pool_mask_embeddings`: features upsampled to the original size and averaged inside
  each mask (§3.4).

The DBA block itself is :func:`wsss.models.clip.encoder.dba_block`.
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F

from .encoder import CLIPDenseEncoder, dba_dense_features


def tuss_input_size(height: int, width: int, short_side: int = 448,
                    divisor: int = 16) -> Tuple[int, int]:
    """(H, W) of the resized image: scale s = short_side / min side, round(s·side), then each side
    rounded up to a multiple of ``divisor`` (``divisible_by_n(n=16, 'larger')``)."""
    s = short_side / min(height, width)
    return tuple(int(math.ceil(round(s * side) / divisor)) * divisor for side in (height, width))


def mask_bias(masks: torch.Tensor, grid: Tuple[int, int], fg_bias: float = 0.,
              bg_bias: float = -4.) -> torch.Tensor:
    """The attention bias of SAM masks on a patch grid, CLS row and column 0 (§3.2).

    Args:
        masks: (B, M, H, W) masks (bool or 0/1) of B images or windows.
        grid: (h, w) patch grid.

    Returns:
        (B, 1 + h·w, 1 + h·w): ``fg_bias`` for two patches that share a mask (after legacy
        'nearest' downsampling), ``bg_bias`` otherwise, a patch in no mask included, its own
        diagonal too; 0 on the CLS row and column (CLS sees all, all see CLS).
    """
    B, M = masks.shape[:2]
    if M == 0:
        low = masks.new_zeros((B, 0, grid[0] * grid[1]), dtype=torch.float32)
    else:
        low = F.interpolate(masks.float(), size=tuple(grid), mode='nearest').flatten(2)
    shared = low.transpose(1, 2) @ low  # (B, hw, hw): masks containing both patches
    bias = torch.where(shared > 0.5, fg_bias, bg_bias)
    return F.pad(bias, (1, 0, 1, 0), value=0.)


def window_boxes(height: int, width: int, window: int = 224,
                 stride: int = 56) -> List[Tuple[int, int, int, int]]:
    """(y1, y2, x1, x2) of the sliding windows, in raster order; the last row and column are
    clamped to the image edge (AlchemyCat ``slide_inference``)."""
    n_h = math.ceil(max(height - window, 0) / stride) + 1
    n_w = math.ceil(max(width - window, 0) / stride) + 1
    boxes = []
    for i in range(n_h):
        for j in range(n_w):
            y2 = min(i * stride + window, height)
            x2 = min(j * stride + window, width)
            boxes.append((max(y2 - window, 0), y2, max(x2 - window, 0), x2))
    return boxes


def window_counts(height: int, width: int, window: int = 224, stride: int = 56) -> torch.Tensor:
    """(H, W): how many windows cover each pixel."""
    count = torch.zeros(height, width)
    for y1, y2, x1, x2 in window_boxes(height, width, window, stride):
        count[y1:y2, x1:x2] += 1
    return count


class DBAFeatureExtractor:
    """Full-resolution DBA-CLIP features of one resized image (§3.3).

    Windows of ``window`` pixels at ``stride`` each get :func:`dba_dense_features` with the bias
    of the masks cropped to the window (masks resized to the image with 'nearest-exact', then
    'nearest'-downsampled to the window's grid), upsampled bilinearly to the window and averaged
    where windows overlap; the global pass (bias from the original-size masks 'nearest'-
    downsampled to the image's grid) is upsampled to the image; the result is
    ``global_weight·global + (1 − global_weight)·local``. Windows run ``window_batch`` at a time.

    Args:
        encoder: the dense encoder of a frozen CLIP.
        norm_att, residual_weights: the DBA variant (VOC: False, (1, 1); COCO: True, (1, 2)).
        fg_bias, bg_bias: the bias for patches that share a mask / share none.
        pos_embed_mode: positional-embedding interpolation (TUSS: bicubic).
    """

    def __init__(self, encoder: CLIPDenseEncoder, window: int = 224, stride: int = 56,
                 global_weight: float = 0.5, norm_att: bool = False,
                 residual_weights: Sequence[float] = (1., 1.), fg_bias: float = 0.,
                 bg_bias: float = -4., pos_embed_mode: str = 'bicubic',
                 window_batch: int = 8) -> None:
        patch = encoder.patch_size[0]
        if window % patch:
            raise ValueError(f'window {window} is not a multiple of the patch size {patch}')
        self.encoder, self.window, self.stride = encoder, window, stride
        self.global_weight, self.window_batch = global_weight, window_batch
        self.dba = dict(norm_att=norm_att, residual_weights=tuple(residual_weights),
                        pos_embed_mode=pos_embed_mode)
        self.fg_bias, self.bg_bias = fg_bias, bg_bias

    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) DBA features of images (B, 3, H, W) biased by their masks (B, M, ., .)."""
        patch = self.encoder.patch_size[0]
        grid = (images.shape[-2] // patch, images.shape[-1] // patch)
        bias = mask_bias(masks, grid, self.fg_bias, self.bg_bias).to(images.device)
        return dba_dense_features(self.encoder, images, bias, **self.dba)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``image``: (1, 3, H, W) resized and CLIP-normalised; ``masks``: (M, H0, W0) at the
        original size. Returns (D, H, W) features at the resized image's full resolution."""
        H, W = image.shape[-2:]
        masks = masks.to(image.device)
        resized = F.interpolate(masks[None].to(torch.uint8), size=(H, W),
                                mode='nearest-exact')[0]
        boxes = window_boxes(H, W, self.window, self.stride)
        local = count = None
        for start in range(0, len(boxes), self.window_batch):
            batch = boxes[start:start + self.window_batch]
            crops = torch.cat([image[..., y1:y2, x1:x2] for y1, y2, x1, x2 in batch])
            crop_masks = torch.stack([resized[:, y1:y2, x1:x2] for y1, y2, x1, x2 in batch])
            features = self.encode(crops, crop_masks)
            features = F.interpolate(features, size=crops.shape[-2:], mode='bilinear',
                                     align_corners=False)
            if local is None:
                local = image.new_zeros(features.shape[1], H, W)
                count = image.new_zeros(H, W)
            for (y1, y2, x1, x2), f in zip(batch, features):
                local[:, y1:y2, x1:x2] += f
                count[y1:y2, x1:x2] += 1
        local /= count
        glob = self.encode(image, masks[None])
        glob = F.interpolate(glob, size=(H, W), mode='bilinear', align_corners=False)[0]
        return self.global_weight * glob + (1 - self.global_weight) * local


def pool_mask_embeddings(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(M, D) mask embeddings: ``features`` (D, H, W) upsampled bilinearly (align_corners=False)
    to the masks' size (M, H0, W0), averaged inside each mask (``up_emb_avg``, §3.4). A mask with
    no pixel would give NaN: it is an error."""
    masks = masks.to(features.device)
    flat = masks.flatten(1).to(features.dtype)
    areas = flat.sum(dim=1)
    if (areas == 0).any():
        raise ValueError(f'{int((areas == 0).sum())} empty SAM masks: cannot pool an embedding')
    up = F.interpolate(features[None], size=tuple(masks.shape[-2:]), mode='bilinear',
                       align_corners=False)[0]
    return flat @ up.flatten(1).t() / areas[:, None]
