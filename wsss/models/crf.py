"""Fully connected CRF over CAM probabilities (pydensecrf), and CLIP-ES's CRF seed.

CLIP-ES refines its seeds with a dense CRF (10 mean-field iterations, Gaussian kernel sxy=1
compat=3, bilateral kernel sxy=67 srgb=3 compat=4) and realises its confidence-guided loss in the
pseudo label: pixels whose CRF posterior maximum is below 0.95 become 255 (ignored by the
stage-two cross-entropy).
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from ..io.seeds import IGNORE_INDEX

PROB_EPS = 1e-5  # probabilities are clipped to this before -log, so the unary stays finite
# The per-channel mean (B, G, R) CLIP-ES's CRF script subtracts from the image it hands pydensecrf.
RELEASED_MEAN_BGR = (104.008, 116.669, 122.675)


def _pydensecrf():
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_softmax
    except ImportError as e:
        raise ImportError('the dense CRF needs pydensecrf, which the `crf` extra installs: '
                          'pip install -e .[crf]') from e
    return dcrf, unary_from_softmax


def crf_image(image: np.ndarray, released: bool = False) -> np.ndarray:
    """The colour image the bilateral kernel sees: (H, W, 3) C-contiguous uint8.

    ``image`` is (H, W, 3) uint8 RGB. By default the kernel sees that image itself (the clean
    choice). ``released`` reproduces what CLIP-ES's ``eval_cam_with_crf.py`` passes instead: the
    image as OpenCV reads it (BGR order) minus :data:`RELEASED_MEAN_BGR`, cast back to uint8, which
    truncates toward zero and wraps negative values modulo 256 (NumPy's float-to-uint8 cast on
    x86, done explicitly here so it does not depend on the platform). Dark pixels thus turn bright.
    The channel order matters: pydensecrf's permutohedral lattice is not invariant to it, so the
    same values in RGB order give other posteriors.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be (H, W, 3) uint8, got {image.shape} {image.dtype}')
    if released:
        shifted = image[..., ::-1].astype(np.float32) - np.array(RELEASED_MEAN_BGR, np.float32)
        image = np.mod(np.trunc(shifted).astype(np.int64), 256).astype(np.uint8)
    return np.ascontiguousarray(image)


def dense_crf(image: np.ndarray, probs: np.ndarray, iters: int = 10, gauss_sxy: float = 1,
              gauss_compat: float = 3, bilateral_sxy: float = 67, bilateral_srgb: float = 3,
              bilateral_compat: float = 4, released: bool = False) -> np.ndarray:
    """(L, H, W) posterior probabilities of a fully connected CRF (pydensecrf ``DenseCRF2D``).

    Unary: -log of ``probs`` (L, H, W) clipped to [:data:`PROB_EPS`, 1]; the rows need not sum
    to one (a per-pixel factor in (0, 1] does not change the posterior). Pairwise: a Gaussian
    kernel and a bilateral kernel on :func:`crf_image` of ``image`` (H, W, 3) uint8 RGB and
    ``released``. Defaults are CLIP-ES's. ``released`` also computes the unary in float16, as
    NumPy does on the float16 CAM files the released CRF script reads.
    """
    dcrf, unary_from_softmax = _pydensecrf()
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 3:
        raise ValueError(f'probs must be (L, H, W), got {probs.shape}')
    num_labels, height, width = probs.shape
    kernel_image = crf_image(image, released)
    if kernel_image.shape[:2] != (height, width):
        raise ValueError(f'image is {kernel_image.shape[:2]} but probs are {(height, width)}')
    crf = dcrf.DenseCRF2D(width, height, num_labels)
    unary = unary_from_softmax(probs.astype(np.float16) if released else probs, clip=PROB_EPS)
    crf.setUnaryEnergy(np.ascontiguousarray(unary))
    crf.addPairwiseGaussian(sxy=gauss_sxy, compat=gauss_compat)
    crf.addPairwiseBilateral(sxy=bilateral_sxy, srgb=bilateral_srgb, rgbim=kernel_image,
                             compat=bilateral_compat)
    return np.asarray(crf.inference(iters), dtype=np.float32).reshape(num_labels, height, width)


def crf_seed(image: np.ndarray, cams: np.ndarray, class_ids: Sequence[int],
             bg_power: float = 1.0, confidence_threshold: Optional[float] = 0.95,
             **crf_kwargs) -> Tuple[np.ndarray, np.ndarray]:
    """CLIP-ES's seed: dense CRF over [(1 - max_c M_c)^bg_power, M_1..M_K], then argmax.

    Args:
        image: (H, W, 3) uint8 RGB.
        cams: (K, H, W) CAMs in [0, 1] of the classes ``class_ids`` (1..C), at image size.
        bg_power: exponent of the background score; 1 is what CLIP-ES's CRF script uses.
        confidence_threshold: CLIP-ES's confidence-guided loss, realised in the pseudo label:
            pixels whose CRF posterior maximum is below it become 255 (ignored). None keeps
            every pixel.
        crf_kwargs: passed to :func:`dense_crf`.

    Returns:
        The seed (H, W) uint8 (0 background, class ids, 255 ignored) and the confidence
        (H, W) float32, the posterior maximum. No CAMs (K = 0): all background, confidence 1.
    """
    cams = np.asarray(cams, dtype=np.float32)
    if cams.ndim != 3:
        raise ValueError(f'cams must be (K, H, W), got {cams.shape}')
    if len(cams) != len(class_ids):
        raise ValueError(f'{len(cams)} CAMs for {len(class_ids)} class ids')
    if len(cams) == 0:
        return np.zeros(cams.shape[1:], np.uint8), np.ones(cams.shape[1:], np.float32)
    background = np.clip(1 - cams.max(axis=0), 0, None) ** bg_power
    posterior = dense_crf(image, np.concatenate([background[None], cams]), **crf_kwargs)
    ids = np.array([0, *map(int, class_ids)], dtype=np.uint8)
    seed = ids[posterior.argmax(axis=0)]
    confidence = posterior.max(axis=0)
    if confidence_threshold is not None:
        seed[confidence < confidence_threshold] = IGNORE_INDEX
    return seed, confidence
