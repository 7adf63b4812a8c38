"""Rules of the CLIP feature code that change seeds (docs/tuss.md §2-3, docs/relevancy.md §4,
docs/clip_es.md), each against a hand value or an independent NumPy computation
(tests/reference_math.py), on portrait, odd-sized inputs where the alternatives differ."""
import inspect
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT, TWO_BLOCK_CLIP
from mmengine.config import Config
from reference_math import mask_bias as ref_mask_bias
from reference_math import nearest, resize

from wsss.models.clip import (
    CLIPDenseEncoder,
    DBAFeatureExtractor,
    build_clip,
    dba_dense_features,
    interpolate_pos_embed,
    window_boxes,
    window_counts,
)
from wsss.models.clip.attention import CLIPAttentionEncoder


@pytest.fixture(scope='module')
def visual():
    torch.manual_seed(0)
    return build_clip('tiny', pretrained=None, model_cfg=TWO_BLOCK_CLIP).double().visual


def test_windows_cover_a_portrait_image_whose_height_is_no_multiple_of_the_stride():
    # 375x500 portrait (500 rows) resizes to 608x448: (608 - 224) / 56 is not whole
    boxes = window_boxes(608, 448)
    assert sorted({b[0] for b in boxes}) == [0, 56, 112, 168, 224, 280, 336, 384]
    assert sorted({b[2] for b in boxes}) == [0, 56, 112, 168, 224]
    assert len(boxes) == 40 and boxes[-1] == (384, 608, 224, 448)
    count = window_counts(608, 448)
    assert count.min() == 1 and count[607, 447] == 1 and count[600, 0] == 1
    assert count[304, 224] == 16 and count.max() == 20
    # an odd window/stride pair: the last row and column are clamped to the edge
    assert window_boxes(96, 48, window=32, stride=24) == [
        (y, y + 32, x, x + 32) for y in (0, 24, 48, 64) for x in (0, 16)]
    # a side shorter than the window: one window over all of it, starting at 0
    assert window_boxes(20, 40, window=32, stride=24) == [(0, 20, 0, 32), (0, 20, 8, 40)]
    assert window_boxes(40, 20, window=32, stride=24) == [(0, 32, 0, 20), (8, 40, 0, 20)]


def test_positional_embedding_resize_modes(visual):
    """CLIP-ES resizes bilinearly, TUSS's DBA and the relevancy encoder bicubically."""
    pos = visual.positional_embedding  # (1 + 4*4, 64)
    patch = pos[1:].reshape(4, 4, -1).permute(2, 0, 1).numpy()
    for mode in ('bilinear', 'bicubic'):
        expected = resize(patch, (5, 7), mode).reshape(64, -1).T
        got = interpolate_pos_embed(pos, (4, 4), (5, 7), mode=mode)
        np.testing.assert_allclose(got[1:].numpy(), expected, atol=1e-6)
        torch.testing.assert_close(got[0], pos[0])
    bicubic = resize(patch, (5, 7), 'bicubic').reshape(64, -1).T
    np.testing.assert_allclose(CLIPAttentionEncoder(visual).pos_embed((5, 7))[1:].numpy(),
                               bicubic, atol=1e-6)
    bilinear = resize(patch, (5, 7), 'bilinear').reshape(64, -1).T
    np.testing.assert_allclose(CLIPDenseEncoder(visual, 0).pos_embed((5, 7))[1:].numpy(),
                               bilinear, atol=1e-6)
    assert np.abs(bicubic - bilinear).max() > 1e-3  # the fixture tells the modes apart


def test_dba_defaults_and_the_reproduction_config():
    defaults = {k: p.default for k, p in inspect.signature(DBAFeatureExtractor).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == dict(window=224, stride=56, global_weight=0.5, norm_att=False,
                            residual_weights=(1., 1.), fg_bias=0., bg_bias=-4.,
                            pos_embed_mode='bicubic', window_batch=8)
    assert inspect.signature(dba_dense_features).parameters['pos_embed_mode'].default == 'bicubic'
    path = osp.join(ROOT, 'configs/tuss/tuss-zero-shot_vit-b16_voc12-train-aug.py')
    cfg = Config.fromfile(path).model
    assert cfg.short_side == 448
    assert cfg.dba == dict(window=224, stride=56, global_weight=0.5, fg_bias=0., bg_bias=-4.,
                           pos_embed_mode='bicubic', window_batch=8)


def reference_dba(encoder, image, masks, window, stride, starts, global_weight, norm_att=False,
                  weights=(1., 1.)):
    """§3.3 with NumPy resizes and hand-listed window starts: windows biased by the masks
    resized 'nearest-exact' to the image, crops 'nearest'-downsampled to the window grid, each
    window's features upsampled bilinearly and averaged; the global pass biased by the
    original masks 'nearest'-downsampled to the image grid."""
    H, W = image.shape[-2:]
    grid_w = (window // 16, window // 16)
    big = nearest(masks.numpy(), (H, W), exact=True)
    local, count = np.zeros((32, H, W)), np.zeros((H, W))
    for y in starts[0]:
        for x in starts[1]:
            bias = torch.from_numpy(ref_mask_bias(big[:, y:y + window, x:x + window], grid_w))
            f = dba_dense_features(encoder, image[..., y:y + window, x:x + window], bias[None],
                                   norm_att, weights)[0].numpy()
            local[:, y:y + window, x:x + window] += resize(f, (window, window))
            count[y:y + window, x:x + window] += 1
    assert count.min() >= 1
    bias = torch.from_numpy(ref_mask_bias(masks.numpy(), (H // 16, W // 16)))
    glob = resize(dba_dense_features(encoder, image, bias[None], norm_att, weights)[0].numpy(),
                  (H, W))
    return global_weight * glob + (1 - global_weight) * local / count


@pytest.mark.parametrize('global_weight', [0.5, 0.3])
def test_dba_features_of_a_portrait_image_match_the_windowed_reference(visual, global_weight):
    encoder = CLIPDenseEncoder(visual, num_attn_layers=0)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.standard_normal((1, 3, 96, 48)))
    masks = torch.from_numpy(rng.random((3, 37, 19)) > 0.5)  # original size: odd, portrait
    # the fixture tells the resize modes apart, for the global grid and for the image
    for size in ((6, 3), (96, 48)):
        assert (nearest(masks.numpy(), size) != nearest(masks.numpy(), size, True)).any()
    extractor = DBAFeatureExtractor(encoder, window=32, stride=24, global_weight=global_weight,
                                    window_batch=3)
    got = extractor(image, masks).numpy()
    expected = reference_dba(encoder, image, masks, 32, 24, ((0, 24, 48, 64), (0, 16)),
                             global_weight)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # the global pass matters here: the local part alone is something else
    local_only = reference_dba(encoder, image, masks, 32, 24, ((0, 24, 48, 64), (0, 16)), 0.)
    assert np.abs(got - local_only).max() > 1e-3
