"""Dense CRF and CLIP-ES's CRF seed with the confidence-guided loss."""
import importlib.util
import sys

import numpy as np
import pytest

from wsss.models.crf import crf_image, crf_seed, dense_crf

needs_crf = pytest.mark.skipif(importlib.util.find_spec('pydensecrf') is None,
                               reason='the crf extra (pydensecrf) is not installed')


def two_regions(seed: int = 0):
    """A 32x48 image, dark left half and bright right half (with a little pixel noise), and a
    two-label probability map whose boundary is 4 columns too far right, with 8% of the
    pixels flipped."""
    rng = np.random.default_rng(seed)
    image = np.zeros((32, 48, 3), np.int64)
    image[:, :24], image[:, 24:] = 40, 200
    image = np.clip(image + rng.integers(-5, 6, image.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((32, 48), np.int64)
    truth[:, 24:] = 1
    noisy = np.zeros((32, 48), np.int64)
    noisy[:, 28:] = 1
    flip = rng.random(noisy.shape) < 0.08
    noisy[flip] = 1 - noisy[flip]
    right = np.where(noisy == 1, 0.65, 0.35).astype(np.float32)
    return image, np.stack([1 - right, right]), truth


@needs_crf
@pytest.mark.parametrize('released', [False, True])
def test_crf_snaps_to_the_image_boundary(released):
    image, probs, truth = two_regions()
    before = (probs.argmax(0) != truth).sum()
    posterior = dense_crf(image, probs, released=released)
    after = (posterior.argmax(0) != truth).sum()
    assert before > 32 * 4  # the displaced strip and the speckle
    assert after < 0.5 * before
    assert after <= 0.02 * truth.size
    assert posterior.shape == probs.shape and posterior.dtype == np.float32
    np.testing.assert_allclose(posterior.sum(0), 1, atol=1e-5)


@needs_crf
def test_crf_without_iterations_normalises_the_probabilities():
    image, probs, _ = two_regions()
    np.testing.assert_allclose(dense_crf(image, 0.5 * probs, iters=0), probs, atol=1e-6)


# One row of five pixels; CAMs of classes 3 and 15 (the example of test_cams_to_seed_by_hand).
CAMS = np.array([[[0.9, 0.2, 0.6, 0.0, 0.4]],
                 [[0.1, 0.7, 0.4, 0.0, 0.1]]], np.float32)


@needs_crf
def test_crf_seed_by_hand():
    """With no mean-field iteration the posterior is the normalised unary: background
    [.1, .3, .4, 1, .6] against the CAMs gives confidences .9/1.1, .7/1.2, .6/1.4, 1, .6/1.1."""
    image = np.zeros((1, 5, 3), np.uint8)
    seed, conf = crf_seed(image, CAMS, [3, 15], confidence_threshold=None, iters=0)
    assert seed.dtype == np.uint8 and conf.dtype == np.float32
    np.testing.assert_array_equal(seed, [[3, 15, 3, 0, 0]])
    np.testing.assert_allclose(conf, [[0.9 / 1.1, 0.7 / 1.2, 0.6 / 1.4, 1.0, 0.6 / 1.1]],
                               atol=1e-4)
    seed, _ = crf_seed(image, CAMS, [3, 15], confidence_threshold=0.5, iters=0)
    np.testing.assert_array_equal(seed, [[3, 15, 255, 0, 0]])
    seed, _ = crf_seed(image, CAMS, [3, 15], iters=0)  # CLIP-ES's 0.95
    np.testing.assert_array_equal(seed, [[255, 255, 255, 0, 255]])
    # power 2: background [.01, .09, .16, 1, .36]; the last pixel turns to class 3 (.4/.86)
    seed, conf = crf_seed(image, CAMS, [3, 15], bg_power=2, confidence_threshold=None, iters=0)
    np.testing.assert_array_equal(seed, [[3, 15, 3, 0, 3]])
    np.testing.assert_allclose(conf[0, [0, 4]], [0.9 / 1.01, 0.4 / 0.86], atol=1e-4)


@needs_crf
def test_crf_seed_on_colour_bands():
    """Three bands (background, class 3, class 15) of distinct colours: the seed follows them,
    and the confidence is the maximum of the CRF posterior of [1 - max M, M...]."""
    colours = [(20, 20, 20), (120, 60, 200), (230, 230, 230)]
    image = np.concatenate([np.full((8, 12, 3), c, np.uint8) for c in colours], axis=1)
    cams = np.full((2, 8, 36), 0.05, np.float32)
    cams[0, :, 12:24], cams[1, :, 24:] = 0.9, 0.85
    seed, conf = crf_seed(image, cams, [3, 15])
    np.testing.assert_array_equal(seed, np.repeat([0, 3, 15], 12)[None].repeat(8, 0))
    probs = np.concatenate([1 - cams.max(0, keepdims=True), cams])
    np.testing.assert_allclose(conf, dense_crf(image, probs).max(0), atol=1e-6)
    assert conf.min() >= 0.95


def test_crf_seed_without_classes_is_background():
    seed, conf = crf_seed(np.zeros((4, 6, 3), np.uint8), np.zeros((0, 4, 6)), [])
    assert seed.shape == (4, 6) and (seed == 0).all() and (conf == 1).all()


@needs_crf
def test_crf_input_checks():
    image = np.zeros((4, 6, 3), np.uint8)
    with pytest.raises(ValueError, match='2 CAMs for 1 class ids'):
        crf_seed(image, np.zeros((2, 4, 6)), [1])
    with pytest.raises(ValueError, match='image is'):
        dense_crf(image, np.ones((2, 5, 6)))
    with pytest.raises(ValueError, match='uint8'):
        dense_crf(image.astype(np.float32), np.ones((2, 4, 6)))


def test_crf_image_released_is_bgr_minus_the_mean_wrapped():
    image = np.array([[[0, 100, 200], [255, 255, 255]]], np.uint8)  # RGB
    flipped = image[:, ::-1]  # not C-contiguous
    plain = crf_image(flipped)
    assert plain.flags['C_CONTIGUOUS']
    np.testing.assert_array_equal(plain, flipped)
    # BGR order: B 200 - 104.008 -> 95; G 100 - 116.669 -> -16 -> 240; R 0 - 122.675 -> -122 -> 134
    released = crf_image(image, released=True)
    np.testing.assert_array_equal(released, [[[95, 240, 134], [150, 138, 132]]])
    assert released.flags['C_CONTIGUOUS']


def test_missing_pydensecrf_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pydensecrf', None)
    monkeypatch.setitem(sys.modules, 'pydensecrf.densecrf', None)
    with pytest.raises(ImportError, match=r'pip install -e \.\[crf\]'):
        dense_crf(np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 2)))
