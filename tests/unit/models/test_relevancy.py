"""The relevancy seeder: Chefer relevancy (docs/relevancy.md T17, a tiny ViT against a direct
per-class computation), test-time augmentation, clicks (T18), seed assembly (T19), SAM prompting,
and the COCO config's seeds (through tools/generate_seeds.py, killed and rerun: tests/e2e)."""
import os.path as osp
import runpy
import sys

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT
from mmengine.config import Config

from wsss.apis import init_stage_one, seed_image
from wsss.io.seeds import confidence_path, seed_path, write_confidence, write_label_map
from wsss.models.clip import build_clip
from wsss.models.clip.attention import CLIPAttentionEncoder
from wsss.models.clip.text import VILD_TEMPLATES
from wsss.models.relevancy import clip_relevancy, relevancy_rollout, tta_relevancy
from wsss.models.relevancy.seeding import relevancy_clicks, relevancy_seed
from wsss.registry import DATASETS, MODELS, SEEDERS

TINY = 'configs/relevancy/relevancy_vit-tiny_minivoc.py'

# §9 T17: 3 tokens, 2 heads, 2 blocks
A1 = [[[.5, .25, .25], [.2, .6, .2], [.1, .1, .8]], [[.4, .4, .2], [.3, .3, .4], [.2, .2, .6]]]
G1 = [[[1, 2, -1], [0, 1, 1], [1, -2, 0]], [[-1, 1, 2], [1, 0, 0], [0, 0, 1]]]
A2 = [[[.6, .3, .1], [.1, .8, .1], [.3, .3, .4]], [[.2, .2, .6], [.5, .25, .25], [0, .5, .5]]]
G2 = [[[2, 1, 1], [0, 0, 0], [1, 1, 1]], [[1, -1, 2], [0, 1, 0], [1, 0, 0]]]


def t64(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


def test_vild_templates_are_the_fourteen_verbatim():
    assert len(VILD_TEMPLATES) == 14 and len(set(VILD_TEMPLATES)) == 14
    assert VILD_TEMPLATES[1] == 'This is a photo of a {}'  # no final period
    assert VILD_TEMPLATES[-1] == 'There is a large {} in the scene.'


def test_relevancy_rollout_on_t17_last_block_only_and_all_blocks():
    last = relevancy_rollout([t64(A2)], [t64(G2)])
    np.testing.assert_allclose(last.numpy(), [0.15, 0.65], atol=1e-12)
    both = relevancy_rollout([t64(A1), t64(A2)], [t64(G1), t64(G2)])
    np.testing.assert_allclose(both.numpy(), [0.96, 1.20], atol=1e-12)
    # gradients of 2 targets broadcast against one attention: each target's own rollout
    two = relevancy_rollout([t64(A2)], [torch.stack([t64(G2), -t64(G2)])])
    np.testing.assert_allclose(two.numpy(), [[0.15, 0.65], [0.1, 0.0]], atol=1e-12)
    with pytest.raises(ValueError, match='one gradient per attention block'):
        relevancy_rollout([t64(A1), t64(A2)], [t64(G1)])


@pytest.fixture(scope='module')
def tiny_clip():
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/clip_tiny.py')).tiny_clip
    return build_clip(**cfg).double()


def test_attention_encoder_reproduces_clip_and_its_attention(tiny_clip):
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    encoder = CLIPAttentionEncoder(tiny_clip.visual, start_block=0)
    out = encoder(images)
    torch.testing.assert_close(out.image_embedding, tiny_clip.encode_image(images))
    assert len(out.attn) == 3 and out.attn[0].shape == (2, 2, 17, 17) and out.grid == (4, 4)
    # the last block's probabilities are nn.MultiheadAttention's
    x = encoder.visual.ln_pre(torch.cat([
        encoder.visual.class_embedding.expand(2, 1, -1),
        encoder.visual.conv1(images).flatten(2).transpose(1, 2)], 1)
        + encoder.visual.positional_embedding)
    for block in encoder.visual.transformer.resblocks[:-1]:
        x = block(x)
    last = encoder.visual.transformer.resblocks[-1]
    y = last.ln_1(x)
    _, weights = last.attn(y, y, y, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out.attn[-1], weights)
    assert len(CLIPAttentionEncoder(tiny_clip.visual)(images).attn) == 1  # last block only
    with pytest.raises(ValueError, match='start_block=3'):
        CLIPAttentionEncoder(tiny_clip.visual, start_block=3)


def direct_relevancy(clip, image: torch.Tensor, text: torch.Tensor,
                     start_block: int) -> np.ndarray:
    """One image, one class: a scalar target, plain autograd, the rollout written out in numpy."""
    out = CLIPAttentionEncoder(clip.visual, start_block)(image[None])
    target = clip.logit_scale.exp() * F.cosine_similarity(out.image_embedding[0], text, dim=0)
    grads = torch.autograd.grad(target, out.attn)
    R = np.eye(out.attn[0].shape[-1])
    for A, G in zip(out.attn, grads):
        A_bar = np.maximum(A[0].detach().numpy() * G[0].numpy(), 0).mean(axis=0)
        R = R + A_bar @ R
    return R[0, 1:].reshape(out.grid)


@pytest.mark.parametrize('start_block', [-1, 0])
def test_batched_relevancy_equals_direct_per_class_autograd(tiny_clip, start_block):
    torch.manual_seed(1)
    images = torch.randn(2, 3, 48, 64, dtype=torch.float64)  # grid 3x4: interpolated positions
    text = torch.randn(3, 32, dtype=torch.float64)
    out = CLIPAttentionEncoder(tiny_clip.visual, start_block)(images)
    maps = clip_relevancy(out.image_embedding, out.attn, text, tiny_clip.logit_scale.exp(),
                          out.grid)
    assert maps.shape == (2, 3, 3, 4)
    for b in range(2):
        for k in range(3):
            expected = direct_relevancy(tiny_clip, images[b], text[k], start_block)
            np.testing.assert_allclose(maps[b, k].numpy(), expected, rtol=1e-9, atol=1e-12)
    assert maps.std() > 0
    assert clip_relevancy(out.image_embedding, out.attn, text[:0], 1.0, out.grid).shape == (
        2, 0, 3, 4)


def pooled(views: torch.Tensor) -> torch.Tensor:
    """A content-dependent stand-in for the relevancy of views: (B, 1, s/16, s/16)."""
    return F.avg_pool2d(views.float().mean(dim=1, keepdim=True), 16)


def test_tta_undoes_the_flip_of_a_flipped_view():
    rng = np.random.default_rng(0)
    image = np.linspace(0, 200, 56)[None, None] + rng.integers(0, 50, (3, 40, 56))
    image = torch.from_numpy(image.astype(np.uint8))  # brighter to the right
    flipped_pass = tta_relevancy(image, pooled, scales=(32,), flips=(True,))
    on_flipped_image = tta_relevancy(image.flip(-1), pooled, scales=(32,), flips=(False,))
    # Pillow's bicubic resize commutes with the flip up to the rounding of its uint8 output
    torch.testing.assert_close(flipped_pass, on_flipped_image.flip(-1), atol=0.6, rtol=0)
    assert (flipped_pass - flipped_pass.flip(-1)).abs().max() > 5  # the map is not symmetric
    # a content-free map, increasing to the right in every view, comes back increasing to the
    # right from the unflipped pass and to the left from the flipped one
    ramp = lambda views: torch.arange(2.).expand(len(views), 1, 2, 2)  # noqa: E731
    right = tta_relevancy(image, ramp, scales=(32,), flips=(False,))[0, 0]
    left = tta_relevancy(image, ramp, scales=(32,), flips=(True,))[0, 0]
    assert right[0] < right[-1] and left[0] > left[-1]
    torch.testing.assert_close(left, right.flip(-1))


def test_tta_averages_every_scale_and_flip_at_image_size():
    image = torch.zeros(3, 20, 30, dtype=torch.uint8)
    sizes = []

    def by_view(views: torch.Tensor) -> torch.Tensor:
        s = views.shape[-1]
        sizes.append(tuple(views.shape))
        # class 0: the scale; class 1: the view's index (0 as is, 1 flipped)
        return torch.stack([torch.full((len(views), s // 16, s // 16), float(s)),
                            torch.arange(len(views)).float()[:, None, None].expand(
                                -1, s // 16, s // 16)], dim=1)

    maps = tta_relevancy(image, by_view, scales=(32, 64), flips=(False, True))
    assert sizes == [(2, 3, 32, 32), (2, 3, 64, 64)]  # one batch per scale
    assert maps.shape == (2, 20, 30)
    torch.testing.assert_close(maps[0], torch.full((20, 30), 48.))
    torch.testing.assert_close(maps[1], torch.full((20, 30), 0.5))
    with pytest.raises(ValueError, match='at least one scale'):
        tta_relevancy(image, by_view, scales=(), flips=(False,))


def test_clicks_on_t18():
    R = torch.zeros(8, 8)
    R[2:4, 2:4], R[4:6, 6:8], R[6:8, 0:2], R[0:2, 6:8] = 1.0, .8, .5, .2
    clicks = relevancy_clicks(R[None])
    torch.testing.assert_close(clicks[0], torch.tensor([[2.5, 2.5], [6.5, 4.5], [0.5, 6.5]]))
    assert relevancy_clicks(R[None], num_clicks=4)[0, 3].tolist() == [6.5, 0.5]  # the .2 peak


def test_clicks_break_ties_in_raster_order_and_fill_with_other_cells():
    corners = torch.from_numpy(np.kron([[1., 0, 1], [0, 0, 0], [1, 0, 1]], np.ones((2, 2))))
    torch.testing.assert_close(relevancy_clicks(corners[None])[0], torch.tensor(
        [[0.5, 0.5], [4.5, 0.5], [0.5, 4.5]]))
    one_peak = torch.from_numpy(np.kron([[4., 3], [2, 1]], np.ones((2, 2))))  # only 4 is a peak
    torch.testing.assert_close(relevancy_clicks(one_peak[None])[0], torch.tensor(
        [[0.5, 0.5], [2.5, 0.5], [0.5, 2.5]]))
    assert relevancy_clicks(torch.zeros(0, 8, 8)).shape == (0, 3, 2)
    with pytest.raises(ValueError, match='no cell'):
        relevancy_clicks(torch.zeros(1, 1, 8))


def test_seed_assembly_on_t19():
    relevancy = torch.zeros(2, 2, 3)
    masks = torch.zeros(2, 2, 3, dtype=torch.bool)
    relevancy[:, 0, 0] = torch.tensor([.7, .4])  # p: both masks, class 3 more relevant
    masks[:, 0, 0] = True
    relevancy[:, 0, 1] = torch.tensor([.9, .2])  # only class 8's mask, despite class 3's .9
    masks[1, 0, 1] = True
    relevancy[:, 1, 2] = torch.tensor([.3, .6])  # in no mask
    seed, conf = relevancy_seed(relevancy, masks, [3, 8])
    assert seed.dtype == np.uint8
    np.testing.assert_array_equal(seed, [[3, 8, 0], [0, 0, 0]])
    np.testing.assert_allclose(conf, [[.7, .2, 1], [1, 1, .4]], atol=1e-6)
    seed, conf = relevancy_seed(torch.zeros(0, 2, 3), torch.zeros(0, 2, 3, dtype=bool), [])
    assert (seed == 0).all() and (conf == 1).all()
    with pytest.raises(ValueError, match='do not match'):
        relevancy_seed(relevancy, masks[:1], [3, 8])


@pytest.fixture(scope='module')
def tiny_seeder():
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/sam_tiny.py')).tiny_sam
    return SEEDERS.build(dict(type='RelevancySeeder', sam=dict(checkpoint=None, model_cfg=cfg)))


def test_seeder_embeds_the_image_once_and_prompts_sam_with_each_class_clicks(
        tiny_seeder, tmp_path, monkeypatch):
    path = str(tmp_path / 'img.png')
    mmcv_image = np.random.default_rng(0).integers(0, 255, (24, 32, 3), np.uint8)
    mmcv.imwrite(mmcv_image, path)
    cams = torch.zeros(2, 24, 32)
    cams[0, 2:4, 2:4], cams[0, 10:12, 20:22], cams[0, 18:20, 4:6] = 1, .8, .6
    cams[1, 12:20, 12:24] = 1
    calls = []
    predictor = tiny_seeder.predictor
    set_image, predict = predictor.set_image, predictor.predict
    monkeypatch.setattr(predictor, 'set_image', lambda image, image_format: calls.append(
        ('set_image', image.copy(), image_format)) or set_image(image, image_format))
    monkeypatch.setattr(predictor, 'predict', lambda **kw: calls.append(('predict', kw)) or
                        predict(**kw))
    seed, conf = tiny_seeder(cams, [5, 9], dict(img_path=path))
    assert [c[0] for c in calls] == ['set_image', 'predict', 'predict']
    np.testing.assert_array_equal(calls[0][1], mmcv_image[..., ::-1])  # RGB, original size
    assert calls[0][2] == 'RGB'
    clicks = relevancy_clicks(cams)
    for (_, kw), points in zip(calls[1:], clicks):
        np.testing.assert_array_equal(kw['point_coords'], points.numpy())
        np.testing.assert_array_equal(kw['point_labels'], [1, 1, 1])
        assert kw['multimask_output'] is False
    np.testing.assert_array_equal(clicks[0], [[2.5, 2.5], [20.5, 10.5], [4.5, 18.5]])
    masks = tiny_seeder.masks(mmcv_image[..., ::-1].copy(), clicks)
    expected_seed, expected_conf = relevancy_seed(cams, torch.from_numpy(masks), [5, 9])
    np.testing.assert_array_equal(seed, expected_seed)
    np.testing.assert_array_equal(conf, expected_conf)
    assert seed.shape == (24, 32) and set(np.unique(seed)) <= {0, 5, 9}
    with pytest.raises(ValueError, match='img.png: image of size'):
        tiny_seeder(cams[:, :20], [5, 9], dict(img_path=path))


def test_model_gives_seeds_relevancy_and_clicks_of_the_labelled_classes(tmp_path):
    model = init_stage_one(osp.join(ROOT, TINY))
    assert isinstance(model.encoder, CLIPAttentionEncoder) and model.encoder.start_block == 2
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(np.random.default_rng(1).integers(0, 255, (40, 56, 3), np.uint8), path)
    with torch.no_grad():  # as in mmengine's test loop: the model enables grad itself
        result = seed_image(model, path, ['person', 'cat'])
    assert result.class_ids == [8, 15] and result.cams.shape == (2, 40, 56)
    assert result.cams.min() == 0 and result.cams.max() == pytest.approx(1, abs=1e-3)
    assert result.seed.shape == (40, 56) and set(np.unique(result.seed)) <= {0, 8, 15}
    assert 0 <= result.confidence.min() and result.confidence.max() <= 1
    assert not any(p.requires_grad for p in model.parameters())
    empty = seed_image(model, path, [])
    assert (empty.seed == 0).all() and empty.cams.shape == (0, 40, 56)


def test_model_rejects_a_seeder_without_clicks_and_bad_scales():
    cfg = Config.fromfile(osp.join(ROOT, TINY)).model
    with pytest.raises(ValueError, match='click seeder'):
        MODELS.build(dict(cfg, seeder=dict(type='ArgmaxSeeder')))
    with pytest.raises(ValueError, match='TTA scale 40'):
        MODELS.build(dict(cfg, scales=(32, 40)))


def test_coco_config_seeds_pass_the_seed_contract(coco_root, tmp_path, monkeypatch, capsys):
    """The COCO config with the tiny CLIP and SAM of the instant-test config swapped in."""
    tiny = Config.fromfile(osp.join(ROOT, TINY)).model
    model = init_stage_one(
        osp.join(ROOT, 'configs/relevancy/relevancy_vit-b16_sam-vit-h_coco14-train.py'),
        cfg_options={'model.clip': tiny.clip, 'model.scales': tiny.scales,
                     'model.seeder.sam': tiny.seeder.sam,
                     'test_dataloader.dataset.data_root': coco_root})
    classes = model.dataset_meta['classes']
    assert len(classes) == 81 and model.num_classes == 81
    seed_dir = str(tmp_path / 'seeds')
    dataset = DATASETS.build(dict(model.cfg.test_dataloader.dataset, pipeline=[]))
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        labelled = [c + 1 for c in np.flatnonzero(info['img_labels'])]
        with torch.no_grad():
            result = seed_image(model, info['img_path'], [classes[c] for c in labelled])
        assert result.class_ids == labelled and set(np.unique(result.seed)) <= {0, *labelled}
        write_confidence(confidence_path(seed_dir, info['img_name']), result.confidence)
        write_label_map(seed_path(seed_dir, info['img_name']), result.seed)
    monkeypatch.setattr(sys, 'argv', ['check_seeds.py', seed_dir, '--dataset', 'coco14',
                                      '--data-root', coco_root, '--split', 'train'])
    with pytest.raises(SystemExit) as exit_code:
        runpy.run_path(osp.join(ROOT, 'tools/check_seeds.py'), run_name='__main__')
    n = len(dataset)  # the images with labels
    assert exit_code.value.code == 0 and f'{n} images, {n} good seeds' in capsys.readouterr().out


def test_clicks_skip_the_flat_floor_and_fill_with_the_highest_cells():
    R = torch.zeros(8, 8)  # one blob: x0.5 cells (0,0) = 1 (the only peak), (0,1) = .6, (1,0) = .3
    R[0:2, 0:2], R[0:2, 2:4], R[2:4, 0:2] = 1., .6, .3
    torch.testing.assert_close(relevancy_clicks(R[None])[0], torch.tensor(
        [[0.5, 0.5], [2.5, 0.5], [0.5, 2.5]]))  # not the zero cells far from the blob
    two = torch.zeros(8, 8)
    two[0:2, 0:2], two[6:8, 6:8], two[0:2, 2:4] = 1., .8, .1
    torch.testing.assert_close(relevancy_clicks(two[None])[0], torch.tensor(
        [[0.5, 0.5], [6.5, 6.5], [2.5, 0.5]]))  # two peaks, then the .1 cell
    torch.testing.assert_close(relevancy_clicks(torch.full((1, 6, 6), .4))[0], torch.tensor(
        [[0.5, 0.5], [2.5, 0.5], [4.5, 0.5]]))  # constant: no peak, raster order
