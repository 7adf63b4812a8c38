"""Rules of the CAM seed path that change seeds (docs/clip_es.md, docs/fma_wsss.md), each
against a hand value or an independent NumPy computation (tests/reference_math.py): CAA's
affinity, boxes and refinement, raw CAMs with negative values, the CAM resize, argmax and SAMS
seeding with several classes and overlapping masks at one level, and the published values of
the reproduction configs."""
import os.path as osp
from types import MethodType, SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from mmseg.structures import SegDataSample
from reference_math import resize, softmax

from wsss.models.clip_es.cam import (
    attention_affinity,
    caa_refine,
    cams_to_seed,
    class_scores,
    refine_with_affinity,
    resize_cams,
)
from wsss.models.clip_es.model import CLIPCAMModel
from wsss.models.seeders import sams_seed


def test_sinkhorn_divides_by_column_sums_then_row_sums():
    rng = np.random.default_rng(0)
    blocks = [rng.uniform(.1, 1, (2, 7, 7)) for _ in range(3)]  # 2 images, 1 + 2x3 tokens
    expected = []
    for b in range(2):
        a = np.mean([blk[b] for blk in blocks], axis=0)[1:, 1:]
        for _ in range(3):
            a = a / a.sum(axis=0, keepdims=True)
            a = a / a.sum(axis=1, keepdims=True)
        a = (a + a.T) / 2
        expected.append(a @ a)
    got = attention_affinity([torch.from_numpy(blk) for blk in blocks], sinkhorn_iters=3)
    np.testing.assert_allclose(got.numpy(), np.stack(expected), rtol=1e-5)


def test_refinement_masks_the_affinity_columns_outside_the_boxes():
    rng = np.random.default_rng(1)
    cams = rng.uniform(0, 1, (2, 3, 4))
    affinity = rng.uniform(0, 1, (12, 12))
    boxes = np.zeros((2, 3, 4))
    boxes[0, :2, 1:3] = 1
    boxes[1, 1:, :] = 1
    refined = np.stack([(affinity * boxes[k].reshape(1, -1)) @ cams[k].reshape(-1)
                        for k in range(2)]).reshape(2, 3, 4)
    low = refined.min(axis=(1, 2), keepdims=True)
    high = refined.max(axis=(1, 2), keepdims=True)
    got = refine_with_affinity(torch.from_numpy(cams).float(), torch.from_numpy(affinity).float(),
                               torch.from_numpy(boxes))
    np.testing.assert_allclose(got.numpy(), (refined - low) / (high - low + 1e-7), rtol=1e-5)


@pytest.mark.parametrize('released', [True, False])
def test_raw_cam_boxes_come_from_the_relud_normalised_copy(released):
    """A raw CAM with a strong negative region: boxes from relu + min-max hold the 2x2 peak only;
    without the relu every 0 would be at 5/6 of the range, inside the box."""
    raw = np.zeros((5, 6))
    raw[1:3, 2:4] = 1.
    raw[4, :3] = -5.
    affinity = np.random.default_rng(2).uniform(0, 1, (30, 30))
    box = np.zeros((5, 6))
    box[1:3, 2:4] = 1
    expected = (affinity * box.reshape(1, -1)) @ raw.reshape(-1)
    got = caa_refine(torch.from_numpy(raw).float()[None], torch.from_numpy(affinity).float(), 0.4,
                     released_boxes=released, raw=True)
    np.testing.assert_allclose(got[0].numpy().reshape(-1), expected, rtol=1e-5)


def test_resize_cams_is_bilinear_half_pixel():
    cams = np.random.default_rng(3).standard_normal((2, 3, 5))
    np.testing.assert_allclose(resize_cams(torch.from_numpy(cams), (7, 11)).numpy(),
                               resize(cams, (7, 11)), atol=1e-6)


def test_class_scores_softmax_over_labelled_classes_and_background():
    rng = np.random.default_rng(4)
    image, text = rng.standard_normal((2, 8)), rng.standard_normal((5, 8))  # 3 classes, 2 bg
    labels = np.array([[1, 0, 1], [0, 1, 0]])
    cos = (image / np.linalg.norm(image, axis=1, keepdims=True)) @ (
        text / np.linalg.norm(text, axis=1, keepdims=True)).T
    logits = np.where(np.concatenate([labels, np.ones((2, 2))], 1) > 0, 100 * cos, -np.inf)
    got = class_scores(torch.from_numpy(image), torch.from_numpy(text), torch.from_numpy(labels),
                       torch.tensor(100.))
    np.testing.assert_allclose(got.numpy(), softmax(logits), atol=1e-6)


def test_cams_to_seed_with_three_classes():
    cams = np.random.default_rng(5).uniform(0, 1, (3, 4, 5)) ** 2
    for power in (1., 2.):
        scores = np.concatenate([(1 - cams.max(0, keepdims=True)) ** power, cams])
        seed, conf = cams_to_seed(torch.from_numpy(cams), [4, 9, 2], power)
        np.testing.assert_array_equal(seed, np.array([0, 4, 9, 2])[scores.argmax(0)])
        np.testing.assert_allclose(conf, scores.max(0), atol=1e-6)
        assert len(np.unique(seed)) >= 3


def test_normalize_reads_bgr_and_gives_clip_normalised_rgb():
    mean, std = torch.tensor([.48, .46, .41]), torch.tensor([.27, .26, .28])
    owner = SimpleNamespace(mean=mean.view(3, 1, 1) * 255, std=std.view(3, 1, 1) * 255)
    bgr = torch.from_numpy(np.random.default_rng(6).integers(0, 256, (3, 5, 7), dtype=np.uint8))
    expected = (bgr.flip(0).double() / 255 - mean.double().view(3, 1, 1)) / std.double().view(
        3, 1, 1)
    np.testing.assert_allclose(CLIPCAMModel.normalize(owner, bgr)[0].numpy(), expected.numpy(),
                               atol=1e-5)


class Recorder:
    takes_raw_cams = True

    def __call__(self, cams, class_ids, metainfo):
        self.cams = cams.clone()
        return np.zeros(cams.shape[-2:], np.uint8), np.zeros(cams.shape[-2:], np.float32)


@pytest.mark.parametrize('raw_cam', [True, False])
def test_raw_cams_reach_the_seeder_unclamped(raw_cam):
    cams = np.array([[[-2., .5], [1.5, .2]]])
    owner = SimpleNamespace(raw_cam=raw_cam, defer_seeding=False, seeder=Recorder())
    for method in ('full_size_cams', 'store_seed'):
        setattr(owner, method, MethodType(getattr(CLIPCAMModel, method), owner))
    sample = SegDataSample(metainfo=dict(ori_shape=(3, 5)))
    CLIPCAMModel.set_seed(owner, sample, torch.from_numpy(cams), [7])
    expected = resize(cams, (3, 5))
    if not raw_cam:
        expected = np.clip(expected, 0, 1)
    np.testing.assert_allclose(owner.seeder.cams.numpy(), expected, atol=1e-6)
    assert (expected < 0).any() == raw_cam


def reference_sams(cams, class_ids, masks, levels, bg_power):
    cams = np.maximum(cams, 0)
    flat = masks.reshape(len(masks), -1).astype(np.float64)
    scores = flat @ cams.reshape(len(cams), -1).T / flat.sum(1, keepdims=True)
    scores = (scores - scores.min(0)) / (scores.max(0) - scores.min(0) + 1e-7)
    scores = np.concatenate([(1 - scores.max(1, keepdims=True)) ** bg_power, scores], 1)
    label, conf = np.array([0, *class_ids])[scores.argmax(1)], scores.max(1)
    seed = np.zeros(cams.shape[1:], np.uint8)
    confidence = np.maximum(1 - cams.max(0), 0) ** bg_power
    for m in sorted(range(len(masks)), key=lambda i: (levels[i], conf[i])):
        seed[masks[m]] = label[m]
        confidence[masks[m]] = conf[m]
    return seed, confidence


def test_sams_seed_with_raw_cams_and_overlapping_masks_at_one_level():
    rng = np.random.default_rng(7)
    cams = rng.standard_normal((2, 6, 7))  # raw: negative values too
    masks = np.zeros((5, 6, 7), bool)
    masks[0, :4, :4] = masks[1, 2:, 3:] = True   # overlap at one level (1)
    masks[2, :, :2] = masks[3, 3:, :] = True     # level 2 and level 0
    masks[4, 1, 5] = True
    levels = [1, 1, 2, 0, 1]
    seed, conf = sams_seed(torch.from_numpy(cams), [3, 5], torch.from_numpy(masks), levels, .6)
    expected_seed, expected_conf = reference_sams(cams, [3, 5], masks, levels, .6)
    np.testing.assert_array_equal(seed, expected_seed)
    np.testing.assert_allclose(conf, expected_conf, atol=1e-6)


# the published values the reproduction configs carry (docs/clip_es.md, docs/fma_wsss.md)
CONFIG_VALUES = {
    'configs/clip_es/clip-es_vit-b16_voc12-train.py': dict(
        box_threshold=.4, num_attn_layers=8, sinkhorn_iters=3, caa=True, released=True,
        template='a clean origami {}.', seeder=dict(type='ArgmaxSeeder', bg_power=1.)),
    'configs/clip_es/clip-es_vit-b16_crf_voc12-train.py': dict(
        box_threshold=.4, seeder=dict(type='CRFSeeder', bg_power=1., confidence_threshold=.95,
                                      iters=10)),
    'configs/clip_es/clip-es_vit-b16_crf_coco14-train.py': dict(
        box_threshold=.7, num_attn_layers=8, sinkhorn_iters=3, released=True,
        seeder=dict(type='CRFSeeder', bg_power=1., confidence_threshold=.95, iters=10)),
    'configs/fma_wsss/fma-coarse-seeds_vit-b16_voc12-train-aug.py': dict(
        stage='cls', box_threshold=.4, sinkhorn_iters=1, num_attn_layers=8, caa=True,
        seeder=dict(bg_power=.6)),
    'configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py': dict(
        stage='seg', box_threshold=.5, sinkhorn_iters=1, caa=True, seeder=dict(bg_power=.7)),
    'configs/fma_wsss/fma-coarse-seeds_vit-b16_coco14-train.py': dict(
        stage='cls', box_threshold=.6, caa=True, seeder=dict(bg_power=.4)),
    'configs/fma_wsss/fma-fine-seeds_vit-b16_coco14-train.py': dict(
        stage='seg', caa=False, seeder=dict(bg_power=1.)),
}


@pytest.mark.parametrize('path', list(CONFIG_VALUES))
def test_reproduction_configs_carry_the_published_values(path):
    model = Config.fromfile(osp.join(ROOT, path)).model

    def check(cfg, expected, where):
        for key, value in expected.items():
            if isinstance(value, dict):
                check(cfg[key], value, f'{where}.{key}')
            else:
                assert cfg[key] == value, f'{path}: {where}.{key} = {cfg[key]!r}, not {value!r}'
    check(model, CONFIG_VALUES[path], 'model')


@pytest.mark.parametrize('released', [False, True])
def test_crf_seeder_reads_the_rgb_image_and_rounds_cams_to_fp16_when_released(
        released, tmp_path, monkeypatch):
    from PIL import Image

    from wsss.models import crf
    from wsss.models.seeders import CRFSeeder
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    path = str(tmp_path / 'colour.png')
    Image.fromarray(rgb).save(path)
    seen = {}

    def fake_crf_seed(image, cams, class_ids, **kwargs):
        seen.update(image=image, cams=cams, kwargs=kwargs)
        return np.zeros((4, 5), np.uint8), np.ones((4, 5), np.float32)

    monkeypatch.setattr(crf, 'crf_seed', fake_crf_seed)
    cams = torch.from_numpy(rng.uniform(0, 1, (2, 4, 5))).float()
    CRFSeeder(released=released)(cams, [1, 2], dict(img_path=path))
    np.testing.assert_array_equal(seen['image'], rgb)
    expected = cams.half().float() if released else cams
    np.testing.assert_array_equal(seen['cams'], expected.numpy())
    assert seen['kwargs'] == dict(bg_power=1., confidence_threshold=.95, released=released)


def test_published_seed_defaults():
    import inspect

    from wsss.models.crf import crf_seed
    from wsss.models.seeders import ArgmaxSeeder, CRFSeeder, SAMSSeeder

    def defaults(f):
        return {k: p.default for k, p in inspect.signature(f).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults(CRFSeeder) == dict(bg_power=1., confidence_threshold=.95, released=None)
    assert defaults(crf_seed) == dict(bg_power=1., confidence_threshold=.95)
    assert defaults(ArgmaxSeeder) == dict(bg_power=1.) and defaults(SAMSSeeder)['bg_power'] == .6
    assert defaults(attention_affinity) == dict(sinkhorn_iters=3, power=2)
    model = defaults(CLIPCAMModel)
    assert (model['num_attn_layers'], model['sinkhorn_iters'], model['box_threshold']) == (
        8, 3, .4)
    assert model['template'] == 'a clean origami {}.' and model['released'] is True
