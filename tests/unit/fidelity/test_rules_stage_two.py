"""Rules of stage two's test-time refinement that change predictions (docs/stage_two.md): the
CRF sees the RGB image and the mean of the views' probabilities, against an independent
computation on a colour image; the published test ratios, flips and CRF settings."""
import inspect
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image
from reference_math import softmax

from wsss.models.crf import dense_crf
from wsss.models.segmentors import dense_crf_tta as test_time
from wsss.models.segmentors.dense_crf_tta import DenseCRFTestModel, seg_probabilities


def test_the_crf_gets_the_rgb_image_and_the_mean_of_the_views_probabilities(tmp_path,
                                                                          monkeypatch):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgb[..., 0] = 250  # red: no channel order is a copy of another
    path = str(tmp_path / 'colour.png')
    Image.fromarray(rgb).save(path)
    logits = [rng.standard_normal((3, 5, 7)) for _ in range(2)]
    views = []
    for view in logits:
        sample = SegDataSample(metainfo=dict(img_path=path))
        sample.seg_logits = PixelData(data=torch.from_numpy(view).float())
        views.append(sample)
    seen = {}
    posterior = rng.random((3, 5, 7)).astype(np.float32)

    def fake_crf(image, probs, **kwargs):
        seen.update(image=image, probs=probs, kwargs=kwargs)
        return posterior

    monkeypatch.setattr(test_time, 'dense_crf', fake_crf)
    owner = SimpleNamespace(probs='softmax', crf=dict(iters=3))
    merged, = DenseCRFTestModel.merge_preds(owner, [views])
    np.testing.assert_array_equal(seen['image'], np.asarray(Image.open(path).convert('RGB')))
    expected = np.mean([softmax(v, axis=0) for v in logits], axis=0)
    np.testing.assert_allclose(seen['probs'], expected, atol=1e-6)
    assert seen['kwargs'] == dict(iters=3)
    np.testing.assert_array_equal(merged.pred_sem_seg.data[0].numpy(), posterior.argmax(0))


def test_normalised_probabilities_of_mask2former_scores():
    scores = torch.tensor([[[.2, -1.]], [[.6, .0]], [[.2, .0]]])  # (C=3, 1, 2)
    probs = seg_probabilities(scores, 'normalize')
    torch.testing.assert_close(probs[:, 0, 0], torch.tensor([.2, .6, .2]))
    torch.testing.assert_close(probs[:, 0, 1], torch.zeros(3))
    with pytest.raises(ValueError, match='crf_model.probs'):
        seg_probabilities(scores, 'sigmoid')


def test_published_test_time_settings():
    crf = {k: p.default for k, p in inspect.signature(dense_crf).parameters.items()
           if p.default is not inspect.Parameter.empty}
    published = dict(iters=10, gauss_sxy=1, gauss_compat=3, bilateral_sxy=67, bilateral_srgb=3,
                     bilateral_compat=4)
    assert crf == dict(published, released=False)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/test_time.py'))
    assert cfg.crf_model.crf == published and cfg.crf_model.probs == 'softmax'
    for path in ('configs/_base_/datasets/voc12_seeds.py',
                 'configs/_base_/datasets/coco14_seeds.py'):
        cfg = Config.fromfile(osp.join(ROOT, path))
        assert cfg.img_ratios == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
        resize, ratios, flips = cfg.tta_pipeline[1].transforms[:3]
        assert resize == [dict(type='Resize', scale=(2048, 512), keep_ratio=True)]
        assert [t['scale_factor'] for t in ratios] == cfg.img_ratios
        assert [(t['prob'], t['direction']) for t in flips] == [(0., 'horizontal'),
                                                               (1., 'horizontal')]
        assert cfg.test_pipeline[1] == dict(type='Resize', scale=(2048, 512), keep_ratio=True)
