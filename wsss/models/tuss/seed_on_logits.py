"""``seed_on_logits``: how every TUSS stage turns per-mask logits or scores into mask labels
(docs/tuss.md §4.3, the released ``seed_on_logits.py``).

One image at a time: its S masks' logits or scores ``x`` (S, K'), the foreground classes kept
(``fg_cls``, 0-based: dataset label - 1), a foreground method (L1, softmax at temperature γ,
min-max across the image's masks) and a background method. The result has one column for
background and one per kept class; the label of a mask is the argmax, its confidence the max.
"""
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

BG_METHODS = ('pow', 'alpha_bg', 'thresh')


@dataclass
class MaskSeeds:
    """``seed_on_logits``'s output for S masks and F kept classes."""
    scores: torch.Tensor  # (S, 1 + F): background, then the kept classes
    labels: torch.Tensor  # (S,) long: 0 background, else dataset label (fg_cls + 1)
    confidence: torch.Tensor  # (S,): the winning score
    class_ids: torch.Tensor  # (1 + F,) long: the dataset label of each score column

    def full_scores(self, num_classes: int) -> torch.Tensor:
        """(S, K) scores with every class id in its column, 0 in the columns not kept: the
        matrix P the next stage reads (§4.4)."""
        full = self.scores.new_zeros(len(self.scores), num_classes)
        full[:, self.class_ids] = self.scores
        return full

    def class_mask(self, num_classes: int) -> torch.Tensor:
        """(K,) bool: the columns kept (``cls_lb``)."""
        mask = torch.zeros(num_classes, dtype=torch.bool)
        mask[self.class_ids.cpu()] = True
        return mask


def seed_on_logits(x: torch.Tensor, fg_cls: Sequence[int], with_bg_logit: bool,
                   bg: dict, softmax: Optional[float] = None, norm: bool = False,
                   L1: bool = False, bypath_suppress: bool = True,
                   is_score: bool = False) -> MaskSeeds:
    """Score and label the S masks of one image.

    Args:
        x: (S, K') logits (zero-shot: the vocabulary, K' = |V|) or scores (later stages:
            K' = K, column 0 background).
        fg_cls: the 0-based foreground classes kept (image labels; all classes without labels).
        with_bg_logit: ``x`` has a background column 0, which is kept (LP, probe, combination);
            else background comes from ``bg`` alone (zero-shot).
        bg: ``dict(method='pow', p=...)``: prepend (1 - max score)^p; ``dict(method='alpha_bg',
            alpha=...)``: background column ← column^alpha; ``dict(method='thresh', t=...)``:
            prepend the constant t.
        softmax: γ: softmax(γ·x) over the classes (None: no softmax).
        norm: min-max each kept column (clamped at 0) across the image's masks, eps 1e-7.
        L1: L1-normalise each row over the classes first.
        bypath_suppress: apply L1/softmax over all columns of ``x`` and then keep the columns
            (True), or keep the columns first (False).
        is_score: scores below 1e-8 are -inf before the softmax.
    """
    method = bg.get('method')
    if method not in BG_METHODS:
        raise ValueError(f"bg.method must be one of {BG_METHODS}, got {method!r}")
    if (method == 'alpha_bg') != with_bg_logit:
        raise ValueError("bg.method='alpha_bg' needs with_bg_logit=True, and 'pow' / 'thresh' "
                         'need with_bg_logit=False')
    fg = torch.as_tensor(list(fg_cls), dtype=torch.long, device=x.device)
    idx = torch.cat([fg.new_zeros(1), fg + 1]) if with_bg_logit else fg

    def transform(t: torch.Tensor) -> torch.Tensor:
        if L1:
            t = F.normalize(t, p=1, dim=1)
        if softmax is not None:
            if is_score:
                t = t.masked_fill(t < 1e-8, float('-inf'))
            t = torch.softmax(softmax * t, dim=1)
        return t

    score = transform(x)[:, idx] if bypath_suppress else transform(x[:, idx])
    if norm and len(score):
        s = score.clamp(min=0)
        low, high = s.min(dim=0).values, s.max(dim=0).values
        score = (s - low) / (high - low + 1e-7)
    if method == 'pow':
        top = score.max(dim=1).values if score.shape[1] else score.new_zeros(len(score))
        score = torch.cat([(1 - top).clamp(min=0).pow(bg['p'])[:, None], score], dim=1)
    elif method == 'thresh':
        score = torch.cat([score.new_full((len(score), 1), float(bg['t'])), score], dim=1)
    else:
        score = torch.cat([score[:, :1].pow(bg['alpha']), score[:, 1:]], dim=1)
    class_ids = torch.cat([fg.new_zeros(1), fg + 1])
    confidence, index = score.max(dim=1) if len(score) else (score.new_zeros(0),
                                                             fg.new_zeros(0))
    return MaskSeeds(scores=score, labels=class_ids[index], confidence=confidence,
                     class_ids=class_ids)
