"""Independent NumPy versions of the resizes and scoring rules that make seeds, written from
their definitions (docs/clip_es.md, docs/tuss.md, docs/relevancy.md) and not from the code under
test: the tests of tests/test_rules_*.py compare the package against them."""
from typing import Optional, Sequence

import numpy as np


def _source(out_size: int, in_size: int) -> np.ndarray:
    """Half-pixel source coordinate of each output index (align_corners=False)."""
    return (np.arange(out_size) + 0.5) * in_size / out_size - 0.5


def bilinear_matrix(out_size: int, in_size: int) -> np.ndarray:
    """(out, in) weights of a 1-D linear resize, align_corners=False, edges clamped."""
    src = np.clip(_source(out_size, in_size), 0, None)
    low = np.floor(src).astype(int)
    frac = src - low
    high = np.minimum(low + 1, in_size - 1)
    low = np.minimum(low, in_size - 1)
    matrix = np.zeros((out_size, in_size))
    np.add.at(matrix, (np.arange(out_size), low), 1 - frac)
    np.add.at(matrix, (np.arange(out_size), high), frac)
    return matrix


def bicubic_matrix(out_size: int, in_size: int, a: float = -0.75) -> np.ndarray:
    """(out, in) weights of a 1-D cubic-convolution resize (Keys, a = -0.75, PyTorch's),
    align_corners=False, source indices clamped to the edge."""
    src = _source(out_size, in_size)
    low = np.floor(src).astype(int)
    t = src - low
    matrix = np.zeros((out_size, in_size))
    for offset in (-1, 0, 1, 2):
        d = np.abs(t - offset)
        w = np.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1,
                     np.where(d < 2, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a, 0))
        np.add.at(matrix, (np.arange(out_size), np.clip(low + offset, 0, in_size - 1)), w)
    return matrix


def resize(maps: np.ndarray, size: Sequence[int], mode: str = 'bilinear') -> np.ndarray:
    """(..., h, w) -> (..., H, W) by a separable bilinear or bicubic resize."""
    make = bilinear_matrix if mode == 'bilinear' else bicubic_matrix
    rows, cols = make(size[0], maps.shape[-2]), make(size[1], maps.shape[-1])
    return np.einsum('Hh,...hw,Ww->...HW', rows, np.asarray(maps, np.float64), cols)


def nearest(masks: np.ndarray, size: Sequence[int], exact: bool = False) -> np.ndarray:
    """(..., h, w) -> (..., H, W): legacy 'nearest' (source floor(i·in/out)) or 'nearest-exact'
    (floor((i + 0.5)·in/out))."""
    def index(out_size, in_size):
        pos = (np.arange(out_size) + (0.5 if exact else 0.)) * in_size / out_size
        return np.minimum(np.floor(pos).astype(int), in_size - 1)
    rows, cols = index(size[0], masks.shape[-2]), index(size[1], masks.shape[-1])
    return masks[..., rows[:, None], cols[None, :]]


def mask_bias(masks: np.ndarray, grid: Sequence[int], fg: float = 0., bg: float = -4.):
    """(M, H, W) masks -> (1 + h·w)² bias: fg for patches that share a mask, bg otherwise,
    0 on the CLS row and column (docs/tuss.md §3.2)."""
    low = nearest(masks.astype(np.float64), grid).reshape(len(masks), -1)
    bias = np.where(low.T @ low > 0.5, fg, bg)
    return np.pad(bias, ((1, 0), (1, 0)))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def seed_on_logits(x: np.ndarray, fg_cls: Sequence[int], with_bg_logit: bool, bg: dict,
                   softmax_t: Optional[float] = None, norm: bool = False, L1: bool = False,
                   bypath_suppress: bool = True, is_score: bool = False):
    """docs/tuss.md §4.3 row by row: (scores (S, 1 + F), labels (S,), confidence (S,))."""
    x = np.array(x, np.float64)
    keep = ([0] + [c + 1 for c in fg_cls]) if with_bg_logit else list(fg_cls)

    def f(t):
        t = t.copy()
        if L1:
            t = t / np.maximum(np.abs(t).sum(axis=1, keepdims=True), 1e-12)
        if softmax_t is not None:
            if is_score:
                t[t < 1e-8] = -np.inf
            t = softmax(softmax_t * t, axis=1)
        return t

    score = f(x)[:, keep] if bypath_suppress else f(x[:, keep])
    if norm:
        for c in range(score.shape[1]):
            s = np.maximum(score[:, c], 0)
            score[:, c] = (s - s.min()) / (s.max() - s.min() + 1e-7)
    if bg['method'] == 'pow':
        background = np.maximum(1 - score.max(axis=1), 0) ** bg['p']
        score = np.concatenate([background[:, None], score], axis=1)
    elif bg['method'] == 'thresh':
        score = np.concatenate([np.full((len(score), 1), bg['t']), score], axis=1)
    else:
        score[:, 0] = score[:, 0] ** bg['alpha']
    ids = np.array([0] + [c + 1 for c in fg_cls])
    return score, ids[score.argmax(axis=1)], score.max(axis=1)


def transductive_combination(embeddings: np.ndarray, probe_weight: np.ndarray,
                             s_lp: np.ndarray, fg_cls: Sequence[int], w_lp: float = 2.,
                             w_probe: float = 1.) -> np.ndarray:
    """docs/tuss.md §5.2, §5.5 for one image: the probe's seeding scores (100·cos, softmax over
    background and the image's classes, min-max, alpha 1), combined with the stored LP scores
    ``s_lp`` (M, K) with suppression, then L1 seeding over background and those classes, alpha 1;
    (M, K) with zeros outside them."""
    keep = [0] + [c + 1 for c in fg_cls]

    def full(scores):
        out = np.zeros((len(scores), probe_weight.shape[0]))
        out[:, keep] = scores
        return out

    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    w = probe_weight / np.linalg.norm(probe_weight, axis=1, keepdims=True)
    s_probe = full(seed_on_logits(100 * e @ w.T, fg_cls, True, dict(method='alpha_bg', alpha=1.),
                                  softmax_t=1., norm=True, bypath_suppress=False)[0])
    lp, probe = w_lp * s_lp, w_probe * s_probe
    combined = np.where((lp < 1e-8) | (probe < 1e-8), 0., lp + probe)
    return full(seed_on_logits(combined, fg_cls, True, dict(method='alpha_bg', alpha=1.),
                               L1=True, bypath_suppress=False)[0])
