"""TUSS zero-shot mask labels: templates, seed_on_logits, painting (docs/tuss.md §4, T6-T9,
T16), GT vote fractions (§6)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample

from wsss.datasets.class_names import TUSS_VOCABULARIES
from wsss.models.clip import TextEncoder
from wsss.models.clip.text import VILD_TEMPLATES
from wsss.models.seeders import paint_masks
from wsss.models.tuss import gt_vote_fractions, seed_on_logits
from wsss.models.tuss.seed_on_logits import MaskSeeds
from wsss.models.tuss.stage import TUSSStageModel


def test_vild_templates_and_vocabularies():
    assert VILD_TEMPLATES == (  # verbatim, some without the final period
        'a photo of a {}.', 'This is a photo of a {}', 'There is a {} in the scene',
        'There is the {} in the scene', 'a photo of a {} in the scene',
        'a photo of a small {}.', 'a photo of a medium {}.', 'a photo of a large {}.',
        'This is a photo of a small {}.', 'This is a photo of a medium {}.',
        'This is a photo of a large {}.', 'There is a small {} in the scene.',
        'There is a medium {} in the scene.', 'There is a large {} in the scene.')
    voc, coco = TUSS_VOCABULARIES['voc12'], TUSS_VOCABULARIES['coco14']
    assert len(voc['foreground']) + len(voc['background']) == 45
    assert len(coco['foreground']) + len(coco['background']) == 103
    assert voc['foreground'][14] == 'person with clothes,people,human'
    assert coco['foreground'][0].startswith('person, person in shirt') and \
        coco['foreground'][-1] == 'toothbrush'
    assert 'keyboard' not in coco['background'] and 'sign' in voc['background']


def test_t6_template_averaging():
    per_template = {'a {}.': torch.tensor([[1., 0.]]), 'the {}': torch.tensor([[.6, .8]])}
    text = TextEncoder(model=SimpleNamespace(logit_scale=torch.zeros(())), tokenizer=None)
    text.encode_text = lambda prompts: per_template['a {}.' if prompts[0] == 'a x.' else 'the {}']
    out = text.encode_classes(['x'], ['a {}.', 'the {}'])
    torch.testing.assert_close(out, torch.tensor([[.8944, .4472]]), atol=1e-4, rtol=0)


def t7_logits():
    cos = torch.tensor([[.30, .25, .20], [.22, .21, .27], [.26, .28, .24]], dtype=torch.float64)
    return 100 * cos  # vocabulary [A, B, bgword]


def test_t7_zero_shot_seeding():
    seeds = seed_on_logits(t7_logits(), [0], with_bg_logit=False, softmax=1., norm=True,
                           bypath_suppress=True, bg=dict(method='pow', p=1.))
    torch.testing.assert_close(seeds.scores[:, 1], torch.tensor([1, 0, .1121], dtype=torch.float64),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(seeds.scores[:, 0], torch.tensor([0, 1, .8879], dtype=torch.float64),
                               atol=1e-4, rtol=0)
    assert seeds.labels.tolist() == [1, 0, 0]
    torch.testing.assert_close(seeds.confidence, torch.tensor([1, 1, .8879], dtype=torch.float64),
                               atol=1e-4, rtol=0)
    for p in (2., .5):
        assert seed_on_logits(t7_logits(), [0], False, softmax=1., norm=True,
                              bg=dict(method='pow', p=p)).labels.tolist() == [1, 0, 0]
    # the stored row: K = 3 classes (bg, A, B), B not in the image's labels
    full = seeds.full_scores(3)
    assert (full[:, 2] == 0).all() and full[0, 1] == seeds.scores[0, 1]
    assert seeds.class_mask(3).tolist() == [True, True, False]
    # without bypath suppression the softmax runs over A alone: every mask scores 1, min-max 0
    kept_only = seed_on_logits(t7_logits(), [0], False, softmax=1., norm=True,
                               bypath_suppress=False, bg=dict(method='pow', p=1.))
    assert kept_only.labels.tolist() == [0, 0, 0]


@pytest.mark.parametrize('p,t', [(1, .5), (2, .382), (3, .318), (5, .245), (.5, .618),
                                 (.3, .698), (.2, .755)])
def test_t8_background_power_thresholds(p, t):
    above = torch.tensor([[t + .002]], dtype=torch.float64)
    below = torch.tensor([[t - .002]], dtype=torch.float64)
    for x, label in ((above, 1), (below, 0)):
        seeds = seed_on_logits(x, [0], False, bg=dict(method='pow', p=p))
        assert seeds.labels.item() == label


def test_t9_single_mask_image():
    x = torch.tensor([[30., 25., 20.]], dtype=torch.float64)
    zero_shot = seed_on_logits(x, [0, 1], False, softmax=1., norm=True,
                               bg=dict(method='pow', p=.3))
    assert zero_shot.labels.tolist() == [0]
    expected = torch.tensor([[1., 0., 0.]], dtype=torch.float64)
    torch.testing.assert_close(zero_shot.full_scores(3), expected)
    scores = torch.tensor([[.2, .5, .3]], dtype=torch.float64)
    lp = seed_on_logits(scores, [1], True, L1=True, norm=True, bypath_suppress=False,
                        bg=dict(method='alpha_bg', alpha=1.))
    assert lp.labels.tolist() == [0] and (lp.scores == 0).all()


def test_alpha_bg_and_thresh():
    scores = torch.tensor([[.25, .5, .25]], dtype=torch.float64)
    seeds = seed_on_logits(scores, [0, 1], True, bg=dict(method='alpha_bg', alpha=.5))
    torch.testing.assert_close(seeds.scores, torch.tensor([[.5, .5, .25]], dtype=torch.float64))
    assert seeds.labels.tolist() == [0]  # ties go to the first column
    thresh = seed_on_logits(torch.tensor([[.4, .6]]), [0, 1], False,
                            bg=dict(method='thresh', t=.5))
    assert thresh.labels.tolist() == [2] and thresh.scores[0, 0] == .5
    with pytest.raises(ValueError, match='alpha_bg'):
        seed_on_logits(scores, [0], False, bg=dict(method='alpha_bg', alpha=1.))
    with pytest.raises(ValueError, match='bg.method'):
        seed_on_logits(scores, [0], True, bg=dict(method='no_bg'))


def test_t16_painting_order():
    a = torch.zeros(4, 4, dtype=torch.bool)
    a[1:3, 1:4] = True                # level 2, conf .6
    b = torch.zeros(4, 4, dtype=torch.bool)
    b[0:2, 0:3] = True                # level 0, conf .99
    winner = paint_masks(torch.stack([a, b]).flatten(1), torch.tensor([.6, .99]), [2, 0])
    winner = winner.view(4, 4)
    assert winner[1, 1] == 0          # overlap: A, painted after B
    assert winner[0, 0] == 1          # B only
    assert winner[3, 0] == -1         # uncovered
    # same level: the more confident mask is painted last
    same = paint_masks(torch.stack([a, b]).flatten(1), torch.tensor([.6, .99]), [1, 1])
    assert same.view(4, 4)[1, 1] == 1


def test_finish_paints_labels_and_clamped_confidences_uncovered_pixels_zero():
    """TUSSStageModel.finish on three masks (2x4): order m1 (level 1), m0, m2 (level 2, conf
    .5 < 1.2); m2's confidence 1.2 is clamped to 1; pixel (1, 3) is uncovered: 0 with 0."""
    masks = torch.zeros(3, 2, 4, dtype=torch.bool)
    masks[0, 0] = True                          # label 15, level 2, conf .5
    masks[1, :, :2] = True                      # label 0 (background), level 1, conf .9
    masks[2, :, 2] = True                       # label 3, level 2, conf 1.2
    seeds = MaskSeeds(scores=torch.tensor([[0., 0., .5], [.9, 0., 0.], [0., 1.2, 0.]]),
                      labels=torch.tensor([15, 0, 3]), confidence=torch.tensor([.5, .9, 1.2]),
                      class_ids=torch.tensor([0, 3, 15]))
    model = TUSSStageModel(mask_dir='')
    model.num_classes = 21
    sample = SegDataSample()
    model.finish(sample, masks, [dict(level=2), dict(level=1), dict(level=2)], seeds, {})
    assert sample.pred_sem_seg.data[0].tolist() == [[15, 15, 3, 15], [0, 0, 3, 0]]
    torch.testing.assert_close(sample.seed_confidence.data[0],
                               torch.tensor([[.5, .5, 1., .5], [.9, .9, 1., 0.]]))
    assert sample.pred_sem_seg.data.dtype == torch.uint8
    assert sample.mask_store['scores'].shape == (3, 21) and \
        sample.mask_store['cls_lb'].nonzero()[0].tolist() == [0, 3, 15]


def test_gt_vote_fractions():
    gt = np.array([[0, 1, 1, 255], [2, 2, 1, 255]], np.uint8)
    masks = np.zeros((3, 2, 4), bool)
    masks[0, 0] = True                # 0, 1, 1, ignore -> (1/3, 2/3, 0)
    masks[1, :, 3] = True             # only ignore -> zeros
    masks[2, 1, :2] = True            # 2, 2
    fractions = gt_vote_fractions(masks, gt, 3)
    np.testing.assert_allclose(fractions, [[1 / 3, 2 / 3, 0], [0, 0, 0], [0, 0, 1]], atol=1e-6)
    with pytest.raises(ValueError, match='GT of size'):
        gt_vote_fractions(masks, gt[:, :3], 3)
