"""Softmax-GradCAM, CAA and seeds against hand-computed values."""
import cv2
import numpy as np
import pytest
import torch

from wsss.models.clip import CLIPDenseEncoder, build_clip
from wsss.models.clip_es.cam import (
    attention_affinity,
    box_mask,
    caa_refine,
    cams_to_seed,
    class_scores,
    gradcam_per_class_loop,
    normalize_cam,
    refine_with_affinity,
    resize_cams,
    softmax_gradcam,
)

TINY = dict(
    embed_dim=32, quick_gelu=True,
    vision_cfg=dict(image_size=48, patch_size=16, width=128, layers=3, head_width=64),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2))


def linear_model(seed: int = 0):
    """A tiny linear stand-in for CLIP: f = mean_n(A_n) W, with A the (h*w, width) ln1."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(1, 6, 5, generator=g, dtype=torch.float64).requires_grad_()  # 2x3 grid
    W = torch.randn(5, 4, generator=g, dtype=torch.float64)
    text = torch.randn(5, 4, generator=g, dtype=torch.float64)  # 3 classes, 2 background words
    return A, W, text


def gradcam_by_hand(A: np.ndarray, W: np.ndarray, text: np.ndarray, labels, scale: float):
    """Closed form: y_k = scale cos(f, t_k); dp_c/df = p_c (1 - p_c) dy_c/df
    - sum_{c' != c} p_c p_c' dy_c'/df over the softmax set; every patch gets the same gradient
    W dp_c/df / hw, so w_c = W dp_c/df / hw; CAM = ReLU(A w_c), min-max normalised."""
    hw = len(A)
    f = A.mean(0) @ W
    f_hat = f / np.linalg.norm(f)
    t_hat = text / np.linalg.norm(text, axis=1, keepdims=True)
    in_softmax = [c for c in range(3) if labels[c]] + [3, 4]
    y = scale * t_hat[in_softmax] @ f_hat
    p = np.exp(y - y.max()) / np.exp(y - y.max()).sum()
    dy = [scale * (t_hat[k] - (f_hat @ t_hat[k]) * f_hat) / np.linalg.norm(f) for k in in_softmax]
    cams = []
    for i in range(sum(labels)):
        others = [j for j in range(len(in_softmax)) if j != i]
        dp = p[i] * (1 - p[i]) * dy[i] - sum(p[i] * p[j] * dy[j] for j in others)
        w_c = W @ dp / hw
        cam = np.maximum(A @ w_c, 0)
        cams.append(((cam - cam.min()) / (cam.max() - cam.min() + 1e-7)).reshape(2, 3))
    return np.stack(cams)


@pytest.mark.parametrize('labels', [[1, 0, 1], [0, 1, 0], [1, 1, 1]])
def test_softmax_gradcam_matches_closed_form(labels):
    A, W, text = linear_model()
    feature = A.mean(1) @ W
    scale = torch.tensor(3.0, dtype=torch.float64)
    label_t = torch.tensor([labels])
    batched, = softmax_gradcam(A, feature, text, label_t, scale, (2, 3), retain_graph=True)
    looped, = gradcam_per_class_loop(A, feature, text, label_t, scale, (2, 3))
    expected = gradcam_by_hand(A[0].detach().numpy(), W.numpy(), text.numpy(), labels, 3.0)
    np.testing.assert_allclose(batched.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(looped.numpy(), expected, atol=1e-5)


def test_batched_gradcam_equals_loop_on_tiny_clip():
    torch.manual_seed(0)
    model = build_clip('tiny', pretrained=None, model_cfg=TINY)
    out = CLIPDenseEncoder(model.visual, num_attn_layers=2)(torch.randn(3, 3, 48, 64))
    text = torch.nn.functional.normalize(torch.randn(6, 32), dim=-1)  # 4 classes, 2 background
    labels = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 0], [0, 0, 0, 0]])
    args = (out.ln1, out.image_feature, text, labels, model.logit_scale.exp(), out.grid)
    for raw in (False, True):
        batched = softmax_gradcam(*args, raw=raw, retain_graph=True)
        looped = gradcam_per_class_loop(*args, raw=raw)
        assert [c.shape for c in batched] == [(3, 3, 4), (1, 3, 4), (0, 3, 4)]
        for x, y in zip(batched, looped):
            torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4)
        if not raw:  # normalised CAMs lie in [0, 1] and reach 1; raw ones go below 0
            assert all(c.min() >= 0 and c.max() <= 1 for c in batched[:2])
            assert max(float(c.max()) for c in batched[:2]) > 0.99
        else:
            assert min(float(c.min()) for c in batched[:2]) < 0


def test_raw_cam_double_backprop_into_text():
    """create_graph=True: the gradient of a loss on the raw CAMs w.r.t. the text embeddings equals
    the one obtained class by class with create_graph."""
    A, W, text = linear_model(seed=1)
    text.requires_grad_()
    labels = torch.tensor([[1, 0, 1]])
    scale = torch.tensor(3.0, dtype=torch.float64)
    raw, = softmax_gradcam(A, A.mean(1) @ W, text, labels, scale, (2, 3), raw=True,
                           create_graph=True)
    grad_batched, = torch.autograd.grad((raw ** 2).sum(), text)

    probs = class_scores(A.mean(1) @ W, text, labels, scale)
    loss = 0
    for c in (0, 2):
        g, = torch.autograd.grad(probs[0, c], A, create_graph=True)
        loss = loss + ((A[0].detach() @ g[0].mean(0)) ** 2).sum()
    grad_loop, = torch.autograd.grad(loss, text)
    torch.testing.assert_close(grad_batched, grad_loop)
    assert grad_batched.abs().sum() > 0


def test_gradcam_needs_a_graph():
    A, W, text = linear_model()
    with pytest.raises(ValueError, match='gradients enabled'):
        softmax_gradcam(A.detach(), A.mean(1) @ W, text, torch.tensor([[1, 0, 0]]),
                        torch.tensor(1.0), (2, 3))


# 2x2 patch grid. M is circulant, so the column and row sums of 0.1 M are all 0.4: Sinkhorn's
# first column division gives M / 4, which is doubly stochastic and symmetric.
M = torch.tensor([[2., 1., 0., 1.], [1., 2., 1., 0.], [0., 1., 2., 1.], [1., 0., 1., 2.]])
M_SQUARED = torch.tensor([[6., 4., 2., 4.], [4., 6., 4., 2.], [2., 4., 6., 4.], [4., 2., 4., 6.]])


def with_cls(patches: torch.Tensor, cls_value: float) -> torch.Tensor:
    out = torch.full((1, 5, 5), cls_value)
    out[0, 1:, 1:] = patches
    return out


def circulant_attention():
    """Two blocks whose patch-to-patch parts average to 0.1 M; their CLS entries differ and
    must be dropped."""
    eye = torch.eye(4)
    return [with_cls(0.15 * M + 0.05 * eye, 0.3), with_cls(0.05 * M - 0.05 * eye, 0.9)]


def test_attention_affinity_by_hand():
    attn = circulant_attention()
    torch.testing.assert_close(attention_affinity(attn, power=1)[0], M / 4)
    torch.testing.assert_close(attention_affinity(attn, power=2)[0], M_SQUARED / 16)

    # one Sinkhorn round on [[1, 2], [3, 4]]: column sums 4, 6 -> [[1/4, 1/3], [3/4, 2/3]];
    # row sums 7/12, 17/12 -> D = [[3/7, 4/7], [9/17, 8/17]]; symmetrised off-diagonal
    # (4/7 + 9/17) / 2 = 131/238
    single = with_cls(torch.zeros(4, 4), 0.5)[:, :3, :3]
    single[0, 1:, 1:] = torch.tensor([[1., 2.], [3., 4.]])
    a, b, d = 3 / 7, 131 / 238, 8 / 17
    expected = torch.tensor([[a, b], [b, d]])
    torch.testing.assert_close(attention_affinity([single], sinkhorn_iters=1, power=1)[0],
                               expected)
    squared = torch.tensor([[a * a + b * b, b * (a + d)], [b * (a + d), b * b + d * d]])
    torch.testing.assert_close(attention_affinity([single], sinkhorn_iters=1)[0], squared)


def test_attention_affinity_matches_clip_es_loop():
    """CLIP-ES's code: one column/row division, two more rounds, symmetrise, one product."""
    g = torch.Generator().manual_seed(0)
    attn = [torch.rand(2, 10, 10, generator=g).softmax(-1) for _ in range(3)]
    for b in range(2):
        aff = torch.stack([x[b, 1:, 1:] for x in attn]).mean(0)
        trans = aff / aff.sum(0, keepdim=True)
        trans = trans / trans.sum(1, keepdim=True)
        for _ in range(2):
            trans = trans / trans.sum(0, keepdim=True)
            trans = trans / trans.sum(1, keepdim=True)
        trans = (trans + trans.t()) / 2
        trans = trans @ trans
        torch.testing.assert_close(attention_affinity(attn)[b], trans)


def test_caa_refine_by_hand():
    affinity = M_SQUARED / 16
    cam = torch.tensor([[[1.0, 0.5], [0.0, 0.2]]])
    # cam > 0.4 is the top row -> box B = [1, 1, 0, 0]; columns 2 and 3 of A'' are zeroed:
    # rows [6, 4], [4, 6], [2, 4], [4, 2] (/16) times cam [1, 0.5] -> 8/16, 7/16, 4/16, 5/16;
    # min-max normalised: [1, 0.75, 0, 0.25]
    refined = caa_refine(cam, affinity, threshold=0.4)
    torch.testing.assert_close(refined, torch.tensor([[[1.0, 0.75], [0.0, 0.25]]]), atol=1e-6,
                               rtol=0)
    # CLIP-ES's box clips the far corner to (w - 1, h - 1) as an exclusive end: the box keeps
    # patch 0 only; column 0 of A'' times 1 -> [6, 4, 2, 4] / 16 -> [1, 0.5, 0, 0.5]
    released = caa_refine(cam, affinity, threshold=0.4, released_boxes=True)
    torch.testing.assert_close(released, torch.tensor([[[1.0, 0.5], [0.0, 0.5]]]), atol=1e-6,
                               rtol=0)
    # the full CAA chain from the attention weights
    chain = caa_refine(cam, attention_affinity(circulant_attention())[0], threshold=0.4)
    torch.testing.assert_close(chain, refined)


def test_refine_masks_columns_not_rows():
    affinity = torch.arange(16.).reshape(4, 4)
    cams = torch.ones(1, 2, 2)
    masks = torch.tensor([[[1., 0.], [0., 0.]]])
    # only column 0 survives: row i gets affinity[i, 0] = 0, 4, 8, 12 -> normalised
    refined = refine_with_affinity(cams, affinity, masks)
    torch.testing.assert_close(refined.flatten(), torch.tensor([0., 1 / 3, 2 / 3, 1.]), atol=1e-6,
                               rtol=0)


def test_box_mask_two_blobs():
    cam = np.zeros((8, 10), np.float32)
    cam[[1, 2, 3, 3, 3], [1, 1, 1, 2, 3]] = 0.9  # an L: rows 1-3, columns 1-3
    cam[5, 6] = cam[6, 7] = 0.8  # diagonal neighbours: one contour, rows 5-6, columns 6-7
    cam[0, 8] = 0.3  # below the threshold
    expected = np.zeros((8, 10), np.float32)
    expected[1:4, 1:4] = 1
    expected[5:7, 6:8] = 1
    np.testing.assert_array_equal(box_mask(cam, 0.4).numpy(), expected)
    np.testing.assert_array_equal(box_mask(torch.from_numpy(cam), 0.4, released=True).numpy(),
                                  expected)
    # a blob in the last row: a full box by default, dropped by CLIP-ES's clipping
    cam[7, 9] = 1.0
    corner = expected.copy()
    corner[7, 9] = 1
    np.testing.assert_array_equal(box_mask(cam, 0.4).numpy(), corner)
    np.testing.assert_array_equal(box_mask(cam, 0.4, released=True).numpy(), expected)
    assert box_mask(np.zeros((3, 3)), 0.4).sum() == 0


def test_normalize_and_resize_cams():
    cam = torch.tensor([[[2.0, 4.0], [3.0, 6.0]]])
    torch.testing.assert_close(normalize_cam(cam), (cam - 2) / (4 + 1e-7))
    # bilinear, align_corners=False: what cv2.resize (CLIP-ES's scale_cam_image) computes
    small = torch.rand(2, 3, 4)
    big = resize_cams(small, (9, 10))
    assert big.shape == (2, 9, 10)
    for k in range(2):
        np.testing.assert_allclose(big[k].numpy(), cv2.resize(small[k].numpy(), (10, 9)),
                                   atol=1e-5)


def test_cams_to_seed_by_hand():
    cams = torch.tensor([[[0.9, 0.2, 0.6, 0.0, 0.4]],
                         [[0.1, 0.7, 0.4, 0.0, 0.1]]])
    # top = [.9, .7, .6, 0, .4]; power 1: background [.1, .3, .4, 1, .6]
    seed, conf = cams_to_seed(cams, [3, 15], bg_power=1)
    assert seed.dtype == np.uint8
    np.testing.assert_array_equal(seed, [[3, 15, 3, 0, 0]])
    np.testing.assert_allclose(conf, [[0.9, 0.7, 0.6, 1.0, 0.6]], atol=1e-6)
    # power 2: background [.01, .09, .16, 1, .36]: the last pixel turns to class 3
    seed, conf = cams_to_seed(cams, [3, 15], bg_power=2)
    np.testing.assert_array_equal(seed, [[3, 15, 3, 0, 3]])
    np.testing.assert_allclose(conf, [[0.9, 0.7, 0.6, 1.0, 0.4]], atol=1e-6)
    seed, conf = cams_to_seed(torch.zeros(0, 2, 3), [], bg_power=2)
    assert (seed == 0).all() and (conf == 1).all() and seed.shape == (2, 3)
