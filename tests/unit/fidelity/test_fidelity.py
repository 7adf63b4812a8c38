"""The released code's rules behind ``released=True`` (README, Fidelity), each on a hand-worked
case where it changes the answer, and the reproduction / clean configs that select them."""
import json
import math
import os
import os.path as osp
import types

import numpy as np
import pytest
import torch
from conftest import COCO, ROOT, coco_category_ids
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image
from pycocotools import mask as mask_utils
from test_crf import needs_crf

from wsss.apis.pipeline import PipelineError, check_steps, tool_command
from wsss.datasets.class_names import (
    COCO14_PROMPT_NAMES,
    RELEASED_COCO14_PROMPT_NAMES,
    RELEASED_VOC12_PROMPT_NAMES,
    VOC12_PROMPT_NAMES,
)
from wsss.evaluation import search_bg_power
from wsss.io.cams import save_cams
from wsss.io.sam_masks import save_masks
from wsss.io.seeds import write_label_map
from wsss.models import crf as crf_module
from wsss.models.clip_es.cam import (
    attention_affinity,
    box_mask,
    caa_refine,
    cams_to_seed,
    normalize_cam,
    released_masked_softmax,
    resize_cams,
    softmax_gradcam,
)
from wsss.models.seeders import sams_seed
from wsss.registry import DATASETS, MODELS, TRANSFORMS

TINY_SEG = 'configs/fma_wsss/fma-seg_vit-tiny_1xb4-20_minivoc.py'
CLIP_ES_TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'


def config(path: str) -> Config:
    return Config.fromfile(osp.join(ROOT, path))


# ------------------------------------------------------------------------------- CAA box rule

def test_released_boxes_quantise_to_uint8_before_the_threshold():
    # 0.403 > 0.4, but 0.403 * 255 = 102.8 -> 102, and 102 is not > int(0.4 * 255) = 102
    cam = np.zeros((4, 5), np.float32)
    cam[0, 0], cam[2, 3] = 1.0, 0.403
    clean, released = box_mask(cam, 0.4).numpy(), box_mask(cam, 0.4, released=True).numpy()
    assert clean[2, 3] == 1 and clean.sum() == 2  # two one-pixel boxes
    assert released[2, 3] == 0 and released.sum() == 1


def test_released_boxes_threshold_relative_to_the_uint8_max():
    # a map whose max is 0.8: uint8 max 204, threshold int(0.4 * 204) = 81; 0.35 -> 89 > 81
    cam = np.zeros((4, 5), np.float32)
    cam[0, 0], cam[2, 2] = 0.8, 0.35
    assert box_mask(cam, 0.4)[2, 2] == 0
    assert box_mask(cam, 0.4, released=True)[2, 2] == 1


def test_released_boxes_never_hold_the_last_row_and_column():
    cam = np.zeros((3, 4), np.float32)
    cam[1:, 2:] = 1.0  # a 2x2 blob in the bottom-right corner
    np.testing.assert_array_equal(box_mask(cam, 0.5).numpy(), cam)
    expected = np.zeros((3, 4), np.float32)
    expected[1, 2] = 1  # the far corner (4, 3) clipped to (3, 2), exclusive
    np.testing.assert_array_equal(box_mask(cam, 0.5, released=True).numpy(), expected)


# --------------------------------------------------------------- FMA's raw-CAM CAA path


def raw_case():
    """A raw GradCAM on a 3x4 patch grid and an affinity that mixes patches 1 and 5 (the (0, 1)
    and (1, 1) cells) half-half and keeps every other patch to itself."""
    raw = torch.tensor([[[0., 4., 2., 0.],
                         [0., -8., 3., 0.],
                         [0., 0., 0., 0.]]])
    affinity = torch.eye(12)
    affinity[1, 1] = affinity[1, 5] = affinity[5, 1] = affinity[5, 5] = 0.5
    return raw, affinity


def test_raw_caa_refines_the_raw_cam_with_boxes_from_its_normalised_copy():
    raw, affinity = raw_case()
    # boxes: relu(raw) / 4 = [[0, 1, .5, 0], [0, 0, .75, 0]] -> uint8 255, 127, 191 > 102:
    # cells (0, 1), (0, 2), (1, 2) -> one rectangle, rows 0-1, columns 1-2 (patches 1, 2, 5, 6)
    # raw refinement: patch 1 = patch 5 = .5 * 4 + .5 * (-8) = -2; patch 2 = 2; patch 6 = 3
    refined = caa_refine(raw, affinity, 0.4, released_boxes=True, raw=True)
    torch.testing.assert_close(refined, torch.tensor([[[0., -2., 2., 0.],
                                                       [0., -2., 3., 0.],
                                                       [0., 0., 0., 0.]]]))
    # the clean path refines the normalised CAM (patch 1 = patch 5 = .5, patch 2 = .5,
    # patch 6 = .75) and normalises again (/ .75)
    clean = caa_refine(torch.tensor([[[0., 1., .5, 0.], [0., 0., .75, 0.], [0., 0., 0., 0.]]]),
                       affinity, 0.4, released_boxes=True)
    torch.testing.assert_close(clean, torch.tensor([[[0., 2 / 3, 2 / 3, 0.],
                                                     [0., 2 / 3, 1., 0.],
                                                     [0., 0., 0., 0.]]]))
    # SAMS (the ReLU inside it) over masks X = patches 1, 5; Y = patches 2, 6; Z = row 2:
    # raw: X 0, Y 2.5, Z 0 -> X is background; clean: X 2/3, Y 5/6, Z 0 -> X scores .8 > .2
    masks = torch.zeros(3, 3, 4, dtype=torch.bool)
    masks[0, :2, 1] = masks[1, :2, 2] = masks[2, 2] = True
    raw_seed, _ = sams_seed(resize_cams(refined, (3, 4)), [7], masks, [2, 2, 2], bg_power=1.0)
    clean_seed, _ = sams_seed(clean, [7], masks, [2, 2, 2], bg_power=1.0)
    assert raw_seed[0, 1] == 0 and raw_seed[0, 2] == 7 and raw_seed[2, 0] == 0
    assert clean_seed[0, 1] == 7 and clean_seed[0, 2] == 7 and clean_seed[2, 0] == 0


class Recorder:
    """A seeder that records the CAMs it is given (and takes raw ones, like SAMS)."""
    takes_raw_cams = True

    def __call__(self, cams, class_ids, metainfo):
        self.cams = cams.clone()
        return np.zeros(cams.shape[1:], np.uint8), np.ones(cams.shape[1:], np.float32)


def test_raw_cam_model_hands_the_seeder_raw_refined_cams_at_image_size():
    cfg = config(TINY_SEG).model
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    assert model.raw_cam  # VOC segmentation stage, released
    model.seeder = Recorder()
    image = torch.randint(0, 255, (3, 48, 64), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(1))
    labels = np.zeros(20, np.uint8)
    labels[[2, 11]] = 1
    sample = SegDataSample(metainfo=dict(img_labels=labels, ori_shape=(45, 61)))
    model.predict([image], [sample])
    with torch.enable_grad():
        out = model.encoder(model.normalize(image))
        text = model.text_features().detach()
        cams, = softmax_gradcam(out.ln1, out.image_feature, text,
                                torch.as_tensor(labels)[None], model.clip.logit_scale.exp(),
                                out.grid, raw=True, target='masked_softmax')
    refined = caa_refine(cams.detach(), attention_affinity(out.attn, model.sinkhorn_iters)[0],
                         model.box_threshold, released_boxes=True, raw=True)
    expected = resize_cams(refined, (45, 61))
    assert expected.max() < 0.5  # the raw scale: not normalised
    torch.testing.assert_close(model.seeder.cams, expected, atol=1e-9, rtol=1e-4)
    # kept in float32 for the CAM files, which then hold what the seeder saw
    assert sample.cams.data.dtype == torch.float32 and sample.metainfo['raw_cams']
    torch.testing.assert_close(sample.cams.data, model.seeder.cams, atol=0, rtol=0)


def test_raw_cams_need_a_seeder_that_normalises():
    cfg = config(TINY_SEG).model
    cfg.seeder = dict(type='ArgmaxSeeder')
    model = MODELS.build(cfg)  # training needs no seeder
    sample = SegDataSample(metainfo=dict(img_labels=np.ones(20, np.uint8), ori_shape=(32, 32)))
    with pytest.raises(ValueError, match='SAMSSeeder or set model.raw_cam=False'):
        model.predict([torch.zeros(3, 32, 32, dtype=torch.uint8)], [sample])


# ------------------------------------------------------------------------------------- CRF

def fake_pydensecrf(calls: dict):
    """pydensecrf stand-in that records the image handed to the bilateral kernel."""

    class DenseCRF2D:
        def __init__(self, width, height, labels):
            self.shape = (labels, height * width)

        def setUnaryEnergy(self, unary):
            pass

        def addPairwiseGaussian(self, **kwargs):
            pass

        def addPairwiseBilateral(self, rgbim, **kwargs):
            calls['rgbim'] = rgbim.copy()

        def inference(self, iters):
            return np.full(self.shape, 1 / self.shape[0], np.float32)

    return types.SimpleNamespace(DenseCRF2D=DenseCRF2D), lambda p, clip: -np.log(p)


def test_released_crf_hands_pydensecrf_the_bgr_image_minus_the_mean_wrapped(monkeypatch):
    calls = {}
    monkeypatch.setattr(crf_module, '_pydensecrf', lambda: fake_pydensecrf(calls))
    rgb = np.array([[[10, 120, 250], [200, 30, 90]]], np.uint8)
    probs = np.full((2, 1, 2), 0.5, np.float32)
    crf_module.dense_crf(rgb, probs, released=True)
    # BGR: (250, 120, 10) - (104.008, 116.669, 122.675) -> 145, 3, -112 -> 144 (wrapped)
    #      (90, 30, 200) - mean -> -14 -> 242, -86 -> 170, 77
    np.testing.assert_array_equal(calls['rgbim'], [[[145, 3, 144], [242, 170, 77]]])
    crf_module.dense_crf(rgb, probs)
    np.testing.assert_array_equal(calls['rgbim'], rgb)


@needs_crf
def test_the_channel_order_changes_the_crf_posterior():
    """The released posterior is pydensecrf's own on the wrapped BGR image, built here without
    crf_image; the same values in RGB order give other posteriors (the lattice is not invariant
    to the channel order), so BGR is no accident."""
    import pydensecrf.densecrf as dcrf
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    probs = rng.random((3, 24, 32)).astype(np.float32)
    shifted = rgb[..., ::-1].astype(np.float64) - np.array([104.008, 116.669, 122.675])
    wrapped_bgr = np.mod(np.fix(shifted).astype(np.int64), 256).astype(np.uint8)
    unary = -np.log(np.clip(probs.astype(np.float16), np.float16(1e-5), np.float16(1)))

    def posterior(image):
        crf = dcrf.DenseCRF2D(32, 24, 3)
        crf.setUnaryEnergy(np.ascontiguousarray(unary.reshape(3, -1).astype(np.float32)))
        crf.addPairwiseGaussian(sxy=1, compat=3)
        crf.addPairwiseBilateral(sxy=67, srgb=3, rgbim=np.ascontiguousarray(image), compat=4)
        return np.asarray(crf.inference(10), np.float32).reshape(3, 24, 32)

    bgr_posterior = crf_module.dense_crf(rgb, probs, released=True)
    np.testing.assert_allclose(bgr_posterior, posterior(wrapped_bgr), atol=1e-6)
    assert np.abs(bgr_posterior - posterior(wrapped_bgr[..., ::-1])).max() > 1e-3


def test_crf_seeder_follows_the_model_switch():
    cfg = config(CLIP_ES_TINY).model
    cfg.seeder = dict(type='CRFSeeder')
    assert MODELS.build(cfg).seeder.released is True
    cfg.released = False
    assert MODELS.build(cfg).seeder.released is False
    cfg.seeder.released = True  # set on the seeder: kept
    assert MODELS.build(cfg).seeder.released is True


# -------------------------------------------------------------------------------- names

def test_released_name_lists():
    assert RELEASED_VOC12_PROMPT_NAMES[10] == 'diningtable'
    assert RELEASED_VOC12_PROMPT_NAMES[15] == 'pottedplant'
    assert RELEASED_COCO14_PROMPT_NAMES[31] == 'sknowboard'
    assert RELEASED_COCO14_PROMPT_NAMES[58] == 'pottedplant'
    assert RELEASED_COCO14_PROMPT_NAMES[60] == 'diningtable'
    for clean, released in ((VOC12_PROMPT_NAMES, RELEASED_VOC12_PROMPT_NAMES),
                            (COCO14_PROMPT_NAMES, RELEASED_COCO14_PROMPT_NAMES)):
        differ = {(a, b) for a, b in zip(clean, released) if a != b}
        assert len(clean) == len(released)
        assert differ <= {('table', 'diningtable'), ('potted plant', 'pottedplant'),
                          ('snowboard', 'sknowboard')}


def test_models_embed_the_released_names_when_released():
    cfg = config(CLIP_ES_TINY).model
    torch.manual_seed(0)
    released = MODELS.build(cfg)
    assert released.class_names == RELEASED_VOC12_PROMPT_NAMES
    cfg.released = False
    torch.manual_seed(0)
    clean = MODELS.build(cfg)
    assert clean.class_names == VOC12_PROMPT_NAMES
    a, b = released.text_features(), clean.text_features()
    changed = (a - b).abs().amax(dim=1) > 1e-6
    assert changed.nonzero()[:, 0].tolist() == [10, 15]  # diningtable, pottedplant only

    fma = MODELS.build(config(TINY_SEG).model)
    assert fma.prompts.class_names == RELEASED_VOC12_PROMPT_NAMES


# ------------------------------------------------------------------ FMA's released settings

@pytest.mark.parametrize('dataset,stage,released,raw_cam,crop_labels', [
    ('voc12', 'cls', True, False, True),
    ('voc12', 'seg', True, True, True),
    ('coco14', 'cls', True, True, True),
    ('coco14', 'seg', True, True, False),
    ('coco14', 'seg', False, False, True),
])
def test_fma_released_settings(dataset, stage, released, raw_cam, crop_labels):
    cfg = config(TINY_SEG).model
    cfg.update(dataset=dataset, stage=stage, released=released)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert (model.raw_cam, model.crop_labels) == (raw_cam, crop_labels)
    std = model.prompts.ctx.std().item()
    expected = {('voc12', 'seg'): 0.0125}.get((dataset, stage), 0.015)
    assert std == pytest.approx(expected, rel=0.15)


def test_coco_segmentation_training_takes_the_whole_images_labels():
    """The seeds of the crops hold class i + 1 only; the images are labelled i + 1 and 8."""
    images, samples = [], []
    for i in range(2):
        images.append(torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8))
        labels = np.zeros(80, np.uint8)
        labels[[i, 7]] = 1
        seed = torch.zeros(1, 64, 64, dtype=torch.long)
        seed[:, :32, :32] = i + 1
        samples.append(SegDataSample(metainfo=dict(img_labels=labels),
                                     gt_sem_seg=PixelData(data=seed)))
    seen = {}
    for released in (True, False):
        cfg = config(TINY_SEG).model
        cfg.update(dataset='coco14', released=released)
        model = MODELS.build(cfg)
        model.loss_module.forward = lambda cams, class_ids, seeds: seen.setdefault(
            released, class_ids) and cams[0].sum()
        model.loss(images, samples)
    assert seen[True] == [[1, 8], [2, 8]]
    assert seen[False] == [[1], [2]]


# ------------------------------------------------------------------------------- configs

@pytest.mark.parametrize('path,released', [
    ('configs/clip_es/clip-es_vit-b16_voc12-train.py', True),
    ('configs/clip_es/clip-es_vit-b16_crf_voc12-train.py', True),
    ('configs/clip_es/clip-es_vit-b16_crf_coco14-train.py', True),
    ('configs/clip_es/clip-es_vit-b16_crf_coco14-train_released-list.py', True),
    ('configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py', True),
    ('configs/fma_wsss/fma-fine-seeds_vit-b16_coco14-train.py', True),
    ('configs/clip_es/clip-es_vit-b16_crf_voc12-train_clean.py', False),
])
def test_reproduction_configs_are_released_and_clean_ones_not(path, released):
    assert config(path).model.released is released


def test_fma_coco_released_schedule_and_seeding():
    cls = config('configs/fma_wsss/fma-cls_vit-b16_1xb16-20500_coco14-train-224.py')
    assert cls.train_cfg.max_iters == 6150
    assert [(s.begin, s.end) for s in cls.param_scheduler] == [(0, 1000), (1000, 20500)]
    seg = config('configs/fma_wsss/fma-seg_vit-b16_1xb16-75000_coco14-train-224.py')
    assert seg.train_cfg.max_iters == 45000 and seg.param_scheduler[1].end == 75000
    coarse = config('configs/fma_wsss/fma-coarse-seeds_vit-b16_coco14-train.py')
    assert coarse.load_from.endswith('iter_6150.pth')
    assert (coarse.model.box_threshold, coarse.model.seeder.bg_power) == (0.6, 0.4)
    fine = config('configs/fma_wsss/fma-fine-seeds_vit-b16_coco14-train.py')
    assert fine.load_from.endswith('iter_45000.pth')
    assert (fine.model.caa, fine.model.seeder.bg_power) == (False, 1.0)
    clean = config('configs/pipelines/fma-wsss_vit-b16_voc12_clean.py')
    for step in ('cls_prompts', 'coarse_seeds', 'seg_prompts', 'fine_seeds'):
        assert clean.steps[step].cfg_options.model.released is False


# ------------------------------------------------------ the ground-truth power search of SAMS

def test_sams_power_search_over_stored_masks(tmp_path):
    """One class (7) over three masks: left (raw CAM -1: clamped to 0), middle (0.4 after the
    across-mask normalisation), right (1). The middle is class 7 in the GT: background at power
    0.3 (0.6^0.3 = .86 > .4), class 7 at power 2 (.36 < .4)."""
    cams = np.zeros((1, 2, 6), np.float32)
    cams[0, :, :2], cams[0, :, 2:4], cams[0, :, 4:] = -1.0, 0.4, 1.0
    save_cams(str(tmp_path / 'cams' / 'img.npz'), [7], cams)
    records = []
    for cols in (slice(0, 2), slice(2, 4), slice(4, 6)):
        m = np.zeros((2, 6), np.uint8)
        m[:, cols] = 1
        records.append(dict(segmentation=mask_utils.encode(np.asfortranarray(m)), level=2,
                            predicted_iou=0.9, stability_score=0.95, area=4, bbox=[0, 0, 1, 1]))
    save_masks(str(tmp_path / 'masks' / 'img.json'), records, (2, 6))
    gt = np.zeros((2, 6), np.uint8)
    gt[:, 2:] = 7
    write_label_map(str(tmp_path / 'gt.png'), gt)
    results = search_bg_power([('img', str(tmp_path / 'gt.png'))], str(tmp_path / 'cams'), 21,
                              (0.3, 2.0), mask_dir=str(tmp_path / 'masks'))
    assert results[2.0].miou == pytest.approx(1.0)
    assert results[0.3].miou == pytest.approx((4 / 8 + 4 / 8) / 2)  # bg 4 / (4 + 4), class 4 / 8


def test_pipeline_power_search_needs_saved_cams():
    steps = dict(sam_masks=dict(tool='sam_masks', config='x.py'),
                 seeds=dict(tool='seeds', config='y.py'),
                 search=dict(tool='eval_seeds', seeds='seeds', sam_masks='sam_masks',
                             powers=[0.3, 0.4]))
    with pytest.raises(PipelineError, match='give that step save_cams=True'):
        check_steps(steps)
    steps['seeds']['save_cams'] = True
    check_steps(steps)
    command = tool_command('seeds', 'y.py', '/w/seeds', '/w/seeds/seeds', 1, None,
                           save_cams=True)
    assert command[command.index('--save-cams') + 1] == '/w/seeds/cams'
    base = config('configs/pipelines/fma-wsss_vit-b16_coco14_gt-power-search.py')
    check_steps(base.steps.to_dict())
    assert list(base.steps)[-1] == 'coarse_power_search'


def test_prompt_training_crops_need_no_padding():
    from mmcv.transforms import Compose

    from wsss.datasets.transforms import EnsureShortSide
    seg = np.zeros((60, 300), np.uint8)
    seg[:, 150:] = 3
    out = EnsureShortSide(224)(dict(img=np.zeros((60, 300, 3), np.uint8), gt_seg_map=seg,
                                    seg_fields=['gt_seg_map']))
    assert out['img'].shape == (224, 1120, 3) and out['img_shape'] == (224, 1120)
    assert out['gt_seg_map'].shape == (224, 1120)
    assert set(np.unique(out['gt_seg_map'])) == {0, 3}  # nearest: no new values
    unchanged = EnsureShortSide(224)(dict(img=np.zeros((300, 250, 3), np.uint8)))
    assert unchanged['img'].shape == (300, 250, 3)

    train = config('configs/fma_wsss/fma-seg_vit-b16_1xb16-75000_coco14-train-224.py')
    steps = [t for t in train.train_dataloader.dataset.pipeline
             if t['type'] not in ('LoadImage', 'LoadLabelMap', 'PackWSSSInputs')]
    assert steps[0]['scale'] == [(318, 318), (531, 531)]
    pipeline = Compose([TRANSFORMS.build(t) for t in steps])
    wide = np.zeros((100, 500), np.uint8)
    wide[:, 250:] = 3
    for _ in range(5):  # random scales: whatever is drawn, a full crop without padding
        out = pipeline(dict(img=np.zeros((100, 500, 3), np.uint8), gt_seg_map=wide,
                            seg_fields=['gt_seg_map']))
        assert out['img'].shape == (224, 224, 3)
        assert 255 not in out['gt_seg_map']


def test_released_crf_unary_is_computed_in_float16(monkeypatch):
    """The released script hands pydensecrf's unary_from_softmax float16 probabilities."""
    seen = []
    dcrf, _ = fake_pydensecrf({})
    monkeypatch.setattr(crf_module, '_pydensecrf', lambda: (dcrf, lambda p, clip: seen.append(
        p.dtype) or -np.log(np.clip(p, clip, 1)).reshape(len(p), -1).astype(np.float32)))
    rgb = np.zeros((1, 2, 3), np.uint8)
    crf_module.dense_crf(rgb, np.full((2, 1, 2), 0.5), released=True)
    crf_module.dense_crf(rgb, np.full((2, 1, 2), 0.5))
    assert seen == [np.float16, np.float32]


# ------------------------------------------------------ CLIP-ES's GradCAM normalisation

def weak_class_cam(peak: float) -> torch.Tensor:
    """A ReLU'd GradCAM (1, 4, 5) of a class whose softmax share vanishes: ``peak`` at (1, 1),
    0.75 ``peak`` at (1, 3), 0 elsewhere."""
    cam = torch.zeros(1, 4, 5)
    cam[0, 1, 1], cam[0, 1, 3] = peak, 0.75 * peak
    return cam


def test_released_double_normalisation_keeps_a_weak_class_box():
    """Raw max 1e-9. Once: 1e-9 / (1e-9 + 1e-7) = .0099 -> uint8 2; .0074 -> 1; threshold
    int(.7 * 2) = 1 keeps (1, 1) only. Twice: .0099 / (.0099 + 1e-7) = .99999 -> 254, .75 ->
    191 > int(.7 * 254) = 177: both peaks are boxes."""
    cam = weak_class_cam(1e-9)
    once, twice = normalize_cam(cam, 1), normalize_cam(cam, 2)
    assert once.max() == pytest.approx(1e-9 / (1e-9 + 1e-7), rel=1e-5)
    assert twice.max() == pytest.approx(1.0, abs=2e-5)
    expected = torch.zeros(4, 5)
    expected[1, 1] = 1
    torch.testing.assert_close(box_mask(once[0], 0.7, released=True), expected)
    expected[1, 3] = 1
    torch.testing.assert_close(box_mask(twice[0], 0.7, released=True), expected)


def test_released_double_normalisation_keeps_a_weak_class_in_the_seed():
    """Raw max 2e-10: once, the max is 2e-10 / 1.002e-7 = .002 -> uint8 0: no box, CAA gives
    0 everywhere and the class is gone from the seed; twice, it reaches 1 and keeps its box."""
    cam = weak_class_cam(2e-10)
    affinity = torch.eye(20)
    for passes, present in ((1, False), (2, True)):
        normalised = normalize_cam(cam, passes)
        refined = caa_refine(normalised, affinity, 0.7, released_boxes=True)
        seed, _ = cams_to_seed(refined, [5])
        assert bool(seed[1, 1] == 5) is present
        assert bool(refined.max() > 0.99) is present


def test_released_gradcam_is_per_model():
    """CLIP-ES normalises twice and differentiates the softmax; FMA-WSSS's own GradCAM
    normalises once and differentiates the masked softmax; the clean path: once, softmax."""
    found = {}
    for name, path in (('clip_es', CLIP_ES_TINY), ('fma', TINY_SEG)):
        for released in (True, False):
            model = MODELS.build(dict(config(path).model, released=released))
            found[name, released] = model.cam_norm_passes, model.gradcam_target
    assert found == {('clip_es', True): (2, 'softmax'), ('clip_es', False): (1, 'softmax'),
                     ('fma', True): (1, 'masked_softmax'), ('fma', False): (1, 'softmax')}
    with pytest.raises(ValueError, match='model.gradcam_target must be one of'):
        MODELS.build(dict(config(CLIP_ES_TINY).model, gradcam_target='sigmoid'))


COCO_LABELS = ('person', 'vase', 'hair drier')  # in class-id order


@pytest.fixture
def multi_label_coco(tmp_path) -> str:
    """A COCO-2014 tree of one 64x80 image labelled person, vase and hair drier (three boxes)."""
    root = str(tmp_path / 'coco2014')
    name = 'COCO_train2014_000000000007'
    image = np.full((64, 80, 3), 128, np.uint8)  # flat regions: the CRF has edges to follow
    image[:30, :40], image[30:, 40:], image[40:, :30] = (200, 40, 40), (40, 160, 60), (60, 60, 220)
    os.makedirs(osp.join(root, 'train2014'))
    Image.fromarray(image).save(osp.join(root, 'train2014', name + '.jpg'))
    cats = coco_category_ids()
    boxes = ([0, 0, 40, 0, 40, 30, 0, 30], [40, 30, 80, 30, 80, 64, 40, 64],
             [0, 40, 30, 40, 30, 64, 0, 64])
    annotations = [dict(id=i + 1, image_id=7, category_id=cats[c], segmentation=[box],
                        area=1000.0, iscrowd=0, bbox=[0, 0, 1, 1])
                   for i, (c, box) in enumerate(zip(COCO_LABELS, boxes))]
    os.makedirs(osp.join(root, 'annotations'))
    with open(osp.join(root, 'annotations', 'instances_train2014.json'), 'w') as f:
        json.dump(dict(images=[dict(id=7, file_name=name + '.jpg', height=64, width=80)],
                       annotations=annotations,
                       categories=[dict(id=i, name=n) for n, i in cats.items()]), f)
    return root


def test_clip_es_coco_config_keeps_a_class_with_a_vanishing_softmax_share(multi_label_coco):
    """The COCO CLIP-ES config with a tiny CLIP at logit scale 130: the hair drier takes the
    softmax, the person keeps 3e-5, the vase 5e-11 (raw GradCAM maximum 4e-11). Released (two
    normalisations), the vase keeps a CAM that reaches 1 and a region of the CRF seed; with one
    normalisation its CAM is 0 and the vase is gone from the seed."""
    cfg = config('configs/clip_es/clip-es_vit-b16_crf_coco14-train.py')
    cfg.model.update(clip=config('configs/_base_/models/clip_tiny.py').tiny_clip,
                     num_attn_layers=2, defer_seeding=True)
    cfg.test_dataloader.dataset.data_root = multi_label_coco
    item = DATASETS.build(cfg.test_dataloader.dataset)[0]
    vase = COCO_LABELS.index('vase')
    found = {}
    for passes in (2, 1):
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, cam_norm_passes=passes)).eval()
        model.clip.logit_scale.data.fill_(math.log(130.0))
        if passes == 2:  # the premise: a raw maximum below what one normalisation keeps
            with torch.enable_grad():
                out = model.encoder(model.normalize(item['inputs']))
                raw, = softmax_gradcam(out.ln1, out.image_feature, model.text_features(),
                                       model.sample_labels(item['data_samples'])[None],
                                       model.clip.logit_scale.exp(), out.grid, raw=True)
            assert 1e-12 < raw[vase].max() < 3e-10
        sample, = model.predict([item['inputs']], [item['data_samples'].clone()])
        assert sample.cam_class_ids == [COCO[c] for c in COCO_LABELS]
        seed, _ = sample.seeder(sample.cams.data, sample.cam_class_ids, sample.metainfo)
        found[passes] = sample.cams.data[vase].max().item(), (seed == COCO['vase']).sum()
    assert found[2][0] > 0.9 and found[2][1] > 0
    assert found[1] == (0.0, 0)


# ------------------------------------------------------------- FMA-WSSS's masked softmax

def test_released_masked_softmax_by_hand():
    """Logits (labelled class, absent class, two background words) = (0, 10, -1, .5): the absent
    class beats the rest by 9.5+. Masked: e = exp(y - 10) * mask = e^-10 (1, 0, e^-1, e^.5),
    S = sum e = 1.3696e-4, s = e / (S + 1e-5): s_0 = .3089, not the exact .3315. Gradients of
    s_0: d/dy_0 = s_0 (1 - s_0), d/dy_bg = -s_0 s_bg (both formulas), and through the max,
    d/dy_1 = -s_0 1e-5 / (S + 1e-5) = -.0210, where the exact softmax gives 0."""
    logits = torch.tensor([[0., 10., -1., .5]], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True]])
    masked = released_masked_softmax(logits, mask)
    exact = logits.masked_fill(~mask, float('-inf')).softmax(dim=-1)
    e = np.exp(np.array([0., 10., -1., .5]) - 10) * [1, 0, 1, 1]
    S = e.sum()
    s = e / (S + 1e-5)
    assert S == pytest.approx(1.3696e-4, rel=1e-4) and s[0] == pytest.approx(.3089, abs=1e-4)
    np.testing.assert_allclose(masked.detach().numpy()[0], s, rtol=1e-12)
    assert exact[0, 0].item() == pytest.approx(.3315, abs=1e-4)
    grad_masked, = torch.autograd.grad(masked[0, 0], logits)
    grad_exact, = torch.autograd.grad(exact[0, 0], logits)
    expected = [s[0] * (1 - s[0]), -s[0] * 1e-5 / (S + 1e-5), -s[0] * s[2], -s[0] * s[3]]
    np.testing.assert_allclose(grad_masked.numpy()[0], expected, rtol=1e-9)
    assert expected[1] == pytest.approx(-.0210, abs=1e-4) and grad_exact[0, 1] == 0
    # a masked-in class near the top: the two agree to ~epsilon
    near = torch.tensor([[0., .5, -1., .5]], dtype=torch.float64)
    torch.testing.assert_close(released_masked_softmax(near, mask),
                               near.masked_fill(~mask, float('-inf')).softmax(-1),
                               atol=1e-5, rtol=0)

