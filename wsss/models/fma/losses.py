"""FMA-WSSS's prompt-learning losses (docs/fma_wsss.md) and the labels of a training crop."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...io.seeds import IGNORE_INDEX
from ...registry import MODELS


@MODELS.register_module()
class MultiLabelContrastiveLoss(nn.Module):
    """Classification-stage loss: each positive class against the image's negative classes.

    S[n, c] = logit_scale * cos(f_n, t_c) over the foreground classes only;
    L = mean over the positive pairs (n, p) of -log(e^S_np / (e^S_np + sum_{j in neg(n)} e^S_nj)).
    Only images with at least one positive and one negative class count (with no negative the
    term is 0 whatever the features, with no positive there is no term); a batch without such an
    image gives 0 * S.mean(), so the graph stays connected for DDP and AMP.

    Args:
        loss_weight: factor of the loss.
        loss_name: the key of the loss in the loss dict (mmseg's convention).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_contrastive') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, image_feats: torch.Tensor, text_feats: torch.Tensor, labels: torch.Tensor,
                logit_scale: torch.Tensor) -> torch.Tensor:
        """``image_feats`` (N, D), ``text_feats`` (C, D) of the foreground classes, ``labels``
        (N, C) multi-hot, ``logit_scale`` = ``model.logit_scale.exp()``."""
        if labels.shape != (len(image_feats), len(text_feats)):
            raise ValueError(f'labels {tuple(labels.shape)} do not match {len(image_feats)} '
                             f'images and {len(text_feats)} classes')
        scores = logit_scale * (F.normalize(image_feats.float(), dim=-1)
                                @ F.normalize(text_feats.float(), dim=-1).t())
        positive = labels.bool()
        counted = positive.any(dim=1) & (~positive).any(dim=1)
        if not counted.any():
            return 0 * scores.mean()
        # only counted rows: each has a negative, so the logsumexp below is finite
        scores, positive = scores[counted], positive[counted]
        negatives = scores.masked_fill(positive, float('-inf')).logsumexp(dim=1, keepdim=True)
        per_pair = torch.logaddexp(scores, negatives) - scores
        return self.loss_weight * per_pair[positive].mean()


@MODELS.register_module()
class CAMActivationLoss(nn.Module):
    """Segmentation-stage loss: raw CAMs pulled up on their seed region and down elsewhere.

    For each positive (image n, class c): M = raw CAM_c (no ReLU, no normalisation) upsampled
    bilinearly (align_corners=False) to the seed size; F = pixels whose seed is c; B = pixels
    whose seed is neither c nor 255.
    L_fg = sum_F |sg(max(max_F M, 0)) - M| / Z, L_bg = sum_B max(M, 0) / Z,
    Z = sum over the positives of |F| + |B|; loss = fg_weight * L_fg + bg_weight * L_bg.
    The foreground target is the CAM's own (stop-gradient) peak: the loss flattens the CAM
    inside the seed region towards its peak rather than to an absolute level.

    A positive whose class is absent from its seed (F empty) has no foreground term but still
    its background term over B, and counts |B| in Z. When Z = 0 the loss is 0 * (sum of CAMs),
    so the graph stays connected.

    Args:
        fg_weight, bg_weight: weights of L_fg and L_bg.
        loss_weight: factor of the whole loss.
        loss_name: the key of the loss in the loss dict (mmseg's convention).
    """

    def __init__(self, fg_weight: float = 1.0, bg_weight: float = 1.0, loss_weight: float = 1.0,
                 loss_name: str = 'loss_cam') -> None:
        super().__init__()
        self.fg_weight, self.bg_weight = fg_weight, bg_weight
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, cams: Sequence[torch.Tensor], class_ids: Sequence[Sequence[int]],
                seeds: torch.Tensor) -> torch.Tensor:
        """``cams``: per image (K_n, h, w) raw CAMs; ``class_ids``: per image the K_n seed values
        (1..C) they stand for, e.g. ``labels[n].nonzero()[:, 0] + 1`` for the CAMs of
        :func:`softmax_gradcam`; ``seeds``: (N, H, W) long, values 0..C or 255."""
        if not len(cams) == len(class_ids) == len(seeds):
            raise ValueError(f'{len(cams)} CAM sets, {len(class_ids)} class id sets and '
                             f'{len(seeds)} seeds')
        fg_sum = bg_sum = 0
        count = 0
        for cam, ids, seed in zip(cams, class_ids, seeds):
            if len(cam) != len(ids):
                raise ValueError(f'{len(cam)} CAMs for {len(ids)} class ids')
            if len(cam) == 0:
                continue
            M = F.interpolate(cam[None].float(), size=seed.shape, mode='bilinear',
                              align_corners=False)[0]
            ids = torch.as_tensor(ids, device=seed.device).view(-1, 1, 1)
            fg = seed[None] == ids  # (K, H, W)
            bg = ~fg & (seed != IGNORE_INDEX)[None]
            # an empty F has peak -inf -> target 0, and contributes nothing below
            peak = M.detach().masked_fill(~fg, float('-inf')).flatten(1).amax(dim=1)
            target = peak.clamp(min=0).view(-1, 1, 1)
            fg_sum = fg_sum + (target - M).abs()[fg].sum()
            bg_sum = bg_sum + M.clamp(min=0)[bg].sum()
            count += int(fg.sum() + bg.sum())
        if count == 0:
            return 0 * sum(cam.sum() for cam in cams)
        loss = (self.fg_weight * fg_sum + self.bg_weight * bg_sum) / count
        return self.loss_weight * loss


def crop_labels(seed: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes,) uint8 multi-hot over 1..C of the classes present in a (cropped) seed,
    ignoring background 0 and 255: in FMA's segmentation stage the image-level labels of a
    training crop are the classes present in its cropped coarse seed."""
    present = seed.unique()
    present = present[(present != 0) & (present != IGNORE_INDEX)]
    if len(present) and (present.min() < 0 or present.max() > num_classes):
        raise ValueError(f'seed values {present.tolist()} outside 0..{num_classes} and '
                         f'{IGNORE_INDEX}')
    labels = torch.zeros(num_classes, dtype=torch.uint8, device=seed.device)
    labels[present.long() - 1] = 1
    return labels
