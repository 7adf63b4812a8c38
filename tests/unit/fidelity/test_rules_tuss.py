"""Rules of the TUSS stages that change seeds (docs/tuss.md §4-6), each against hand values or
an independent NumPy computation (tests/reference_math.py), with several kept classes and
masks, overlapping masks at one level, r != 1 and colour, odd-sized images."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from mmseg.structures import SegDataSample
from PIL import Image
from reference_math import seed_on_logits as ref_seed_on_logits
from reference_math import softmax

from wsss.datasets.mask_embeddings import MaskEmbeddingDataset
from wsss.io.mask_store import save_shard, shard_path, store_dir
from wsss.models.clip.text import VILD_TEMPLATES
from wsss.models.tuss import MaskSeeds, TUSSLinearProbe, balance, seed_on_logits
from wsss.registry import MODELS

TINY = osp.join(ROOT, 'configs/tuss/tuss-zero-shot_vit-tiny_minivoc.py')

SETTINGS = {  # name: (with_bg_logit, seed_on_logits settings)
    'zero-shot VOC': (False, dict(softmax=1., norm=True, bypath_suppress=True,
                                  bg=dict(method='pow', p=.3))),
    'pow, kept columns only': (False, dict(softmax=.5, norm=True, bypath_suppress=False,
                                           bg=dict(method='pow', p=2.))),
    'thresh, L1': (False, dict(L1=True, bg=dict(method='thresh', t=.3))),
    'probe': (True, dict(softmax=1., norm=True, bypath_suppress=False,
                         bg=dict(method='alpha_bg', alpha=1.))),
    'LP': (True, dict(L1=True, norm=True, bypath_suppress=False,
                      bg=dict(method='alpha_bg', alpha=.5))),
    'min-max of negative logits': (False, dict(norm=True, bg=dict(method='pow', p=1.))),
    'combination, scores': (True, dict(softmax=2., is_score=True, bypath_suppress=True,
                                       bg=dict(method='alpha_bg', alpha=2.))),
}


@pytest.mark.parametrize('name', list(SETTINGS))
def test_seed_on_logits_with_several_kept_classes_matches_the_reference(name):
    with_bg, settings = SETTINGS[name]
    rng = np.random.default_rng(1)
    if 'negative' in name:
        x = rng.standard_normal((5, 7))
        fg_cls = [0, 2, 5]
    elif 'zero-shot' in name or 'pow' in name:
        x = 100 * rng.uniform(.15, .35, (5, 7))  # logits over a 7-word vocabulary
        fg_cls = [0, 2, 3]
    else:
        x = rng.uniform(0, 1, (5, 7))  # scores: background column 0, then 6 classes
        x[rng.random((5, 7)) < .2] = 0
        x[1, 2] = 1e-9  # below the 1e-8 of is_score
        fg_cls = [1, 2, 4]
    seeds = seed_on_logits(torch.from_numpy(x), fg_cls, with_bg, **settings)
    ref = dict(settings)
    scores, labels, confidence = ref_seed_on_logits(x, fg_cls, with_bg, softmax_t=ref.pop(
        'softmax', None), **ref)
    np.testing.assert_allclose(seeds.scores.numpy(), scores, atol=1e-12)
    np.testing.assert_array_equal(seeds.labels.numpy(), labels)
    np.testing.assert_allclose(seeds.confidence.numpy(), confidence, atol=1e-12)
    assert len(set(labels.tolist())) > 1  # the fixture labels masks differently
    full = seeds.full_scores(8).numpy()
    np.testing.assert_allclose(full[:, [0] + [c + 1 for c in fg_cls]], scores, atol=1e-12)
    assert (np.delete(full, [0] + [c + 1 for c in fg_cls], axis=1) == 0).all()


def test_pow_background_of_two_kept_classes_by_hand():
    """Scores after min-max (no softmax): A (1, 0, .5), B (0, .8, .6); the background is
    (1 - the larger)^p, not the smaller."""
    x = torch.tensor([[1., 0.], [0., .8], [.5, .6]], dtype=torch.float64)
    seeds = seed_on_logits(x, [0, 1], False, bg=dict(method='pow', p=1.))
    torch.testing.assert_close(seeds.scores[:, 0], torch.tensor([0., .2, .4], dtype=torch.float64))
    assert seeds.labels.tolist() == [1, 2, 2]
    low = seed_on_logits(torch.tensor([[.3, .2]], dtype=torch.float64), [0, 1], False,
                         bg=dict(method='pow', p=1.))
    assert low.labels.tolist() == [0] and abs(low.scores[0, 0].item() - .7) < 1e-12


def test_semi_balance_with_r_three_by_hand():
    """T = 8; labelled rows get 3/4 of it, unlabelled 1/4; then background and foreground
    columns half of T each."""
    Y = np.array([[1., 1.], [2., 0.], [0., 4.]])
    labelled = np.array([True, False, False])
    np.testing.assert_allclose(balance(Y, labelled, 3., None),
                               [[3, 3], [2 / 3, 0], [0, 4 / 3]], atol=1e-12)
    np.testing.assert_allclose(balance(Y, labelled, 3., 'eq'),
                               [[36 / 11, 36 / 13], [8 / 11, 0], [0, 16 / 13]], atol=1e-12)
    np.testing.assert_allclose(balance(Y, labelled, .5, None),
                               [[4 / 3, 4 / 3], [16 / 9, 0], [0, 32 / 9]], atol=1e-12)


def write_store(seed_dir, shards):
    for name, arrays in shards.items():
        save_shard(shard_path(store_dir(seed_dir), name), arrays)
    return seed_dir


@pytest.mark.parametrize('supervision', ['semi', 'full'])
def test_probe_dataset_trains_labelled_images_on_their_gt(tmp_path, supervision):
    rng = np.random.default_rng(2)
    K = 4
    gt = {n: rng.dirichlet(np.ones(K), m).astype(np.float32) for n, m in (('a', 3), ('b', 2))}
    labelled = {'a': supervision == 'full', 'b': True}
    zs = write_store(str(tmp_path / 'zs/seeds'), {
        n: dict(embeddings=rng.standard_normal((len(g), 5)).astype(np.float32),
                areas=np.arange(1, len(g) + 1), scores=g, labelled=np.array(labelled[n]))
        for n, g in gt.items()})
    cls_lb = {'a': np.array([1, 0, 1, 1], bool), 'b': np.ones(K, bool)}
    prev = {n: rng.uniform(0, .1, (len(g), K)).astype(np.float32) for n, g in gt.items()}
    lp = write_store(str(tmp_path / 'lp/seeds'), {
        n: dict(scores=prev[n], cls_lb=cls_lb[n]) for n in gt})
    dataset = MaskEmbeddingDataset(zs, lp)
    expected = []
    for n in ('a', 'b'):
        if labelled[n]:
            expected.append(gt[n])
        else:
            logits = np.where(cls_lb[n], 100. * prev[n].astype(np.float64), -np.inf)
            expected.append(softmax(logits, axis=1))
    np.testing.assert_allclose(dataset.soft.numpy(), np.concatenate(expected), atol=1e-6)
    assert dataset.areas.tolist() == [1, 2, 3, 1, 2]


def zero_shot_model():
    cfg = Config.fromfile(TINY).model
    cfg.update(mask_dir='unused', short_side=32)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_zero_shot_preprocess_is_rgb_pillow_bicubic_and_clip_normalised():
    model = zero_shot_model()
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 256, (21, 27, 3), dtype=np.uint8)  # colour, odd, landscape
    got = model.preprocess(torch.from_numpy(bgr).permute(2, 0, 1))
    # short side 32: 21 x 27 -> 32 x 41, the long side rounded up to 48
    rgb = np.asarray(Image.fromarray(bgr[..., ::-1].copy()).resize((48, 32), Image.BICUBIC))
    mean = np.array([0.48145466, 0.4578275, 0.40821073])
    std = np.array([0.26862954, 0.26130258, 0.27577711])
    expected = ((rgb / 255. - mean) / std).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


def test_zero_shot_logits_are_exp_logit_scale_times_cosine():
    model = zero_shot_model()
    rng = np.random.default_rng(4)
    embeddings = rng.standard_normal((3, model.clip.visual.output_dim)).astype(np.float32)
    with torch.no_grad():
        text = model.text.encode_classes(model.foreground + model.background,
                                         model.templates).numpy()
    cos = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)) @ (
        text / np.linalg.norm(text, axis=1, keepdims=True)).T
    scale = math.exp(model.clip.logit_scale.item())
    assert abs(scale - 1 / 0.07) < 1e-3  # open_clip's initial temperature: exp() matters here
    np.testing.assert_allclose(model.logits(torch.from_numpy(embeddings)).numpy(), scale * cos,
                               rtol=1e-5, atol=1e-5)
    assert model.templates == VILD_TEMPLATES


def test_painting_at_one_level_goes_by_confidence_through_the_stage_model(tmp_path):
    """Three masks: two overlapping part masks (level 1), the later-indexed one less confident,
    and a sub-part mask (level 0) more confident than both over their overlap."""
    model = TUSSLinearProbe(5, embed_dim=4, mask_dir=str(tmp_path))
    masks = torch.zeros(3, 3, 5, dtype=torch.bool)
    masks[0, :, :3] = True   # level 1, conf .8, label 2
    masks[1, :, 2:] = True   # level 1, conf .6, label 4
    masks[2, 1, 1:4] = True  # level 0, conf .95, label 1
    seeds = MaskSeeds(scores=torch.zeros(3, 5), labels=torch.tensor([2, 4, 1]),
                      confidence=torch.tensor([.8, .6, .95]),
                      class_ids=torch.arange(5))
    sample = SegDataSample()
    model.finish(sample, masks, [dict(level=1), dict(level=1), dict(level=0)], seeds, {})
    expected = np.array([[2, 2, 2, 4, 4]] * 3)
    np.testing.assert_array_equal(sample.pred_sem_seg.data[0].numpy(), expected)
    conf = np.where(expected == 2, .8, .6)
    np.testing.assert_allclose(sample.seed_confidence.data[0].numpy(), conf, atol=1e-6)


ZERO_SHOT_SEEDING = dict(softmax=1., norm=True, bypath_suppress=True, bg=dict(method='pow', p=.3))
ALPHA_ONE = dict(method='alpha_bg', alpha=1.)
TUSS_CONFIG_VALUES = {  # the official settings (docs/tuss.md §4.5, §5, §6; O-T1, O-T2, O-T5)
    'tuss-zero-shot_vit-b16_voc12-train-aug.py': dict(
        dataset='voc12', short_side=448, supervision='weak', seeding=ZERO_SHOT_SEEDING),
    'tuss-zero-shot_vit-b16_coco14-train.py': dict(dataset='coco14', seeding=ZERO_SHOT_SEEDING),
    'tuss-lp1_vit-b16_voc12-train-aug.py': dict(
        k=50, gamma=1., alpha=.9, seeding=dict(L1=True, norm=True, bypath_suppress=False,
                                               bg=ALPHA_ONE)),
    'tuss-lp2_vit-b16_coco14-train.py': dict(num_classes=81, k=50, gamma=1., alpha=.9),
    'tuss-lp1-semi_vit-b16_voc12-train-aug.py': dict(
        semi_balance=1., bg_fg_balance='eq',
        seeding=dict(L1=True, norm=False, bypath_suppress=False, bg=ALPHA_ONE)),
    'tuss-probe1-seeds_vit-b16_voc12-train-aug.py': dict(
        scale=100., seeding=dict(softmax=1., norm=True, bypath_suppress=False, bg=ALPHA_ONE)),
    'tuss-comb_vit-b16_voc12-val.py': dict(
        w_lp=2., w_probe=1., k_bar=50, k=50, gamma=1.,
        lp_seeding=dict(L1=True, norm=False, bg=ALPHA_ONE)),
}


@pytest.mark.parametrize('name', list(TUSS_CONFIG_VALUES))
def test_tuss_reproduction_configs_carry_the_official_values(name):
    model = Config.fromfile(osp.join(ROOT, 'configs/tuss', name)).model
    for key, value in TUSS_CONFIG_VALUES[name].items():
        assert model[key] == value, f'{name}: model.{key} = {model[key]!r}, not {value!r}'


@pytest.mark.parametrize('name', ['tuss-comb_vit-b16_voc12-val.py',
                                  'tuss-comb-full_vit-b16_voc12-val.py'])
def test_combination_configs_seed_without_a_softmax(name):
    """§5.5: the combination is seeded with L1, no softmax, no min-max, background^1 (the
    probe's own seeding must not leak into it through the base config)."""
    seeding = Config.fromfile(osp.join(ROOT, 'configs/tuss', name)).model.seeding
    assert seeding.get('softmax') is None and seeding['L1'] and not seeding['norm']
    assert seeding['bg'] == ALPHA_ONE and not seeding.get('bypath_suppress', False)


def test_the_dba_variant_follows_the_dataset():
    for dataset, expected in (('voc12', dict(norm_att=False, residual_weights=(1., 1.))),
                              ('coco14', dict(norm_att=True, residual_weights=(1., 2.)))):
        cfg = Config.fromfile(TINY).model
        cfg.update(mask_dir='unused', dataset=dataset)
        model = MODELS.build(cfg)
        assert model.features.dba == dict(expected, pos_embed_mode='bicubic')
        assert model.num_classes == (21 if dataset == 'voc12' else 81)
