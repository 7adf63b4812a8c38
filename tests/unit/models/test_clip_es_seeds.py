"""CLIP-ES seeds in process with a tiny random CLIP: the resize that keeps the original shape, the
model's seed of the labelled classes, the CRF seeder's unsure pixels, and the sampler that skips
finished images (tools/generate_seeds.py killed and rerun, in 2 processes: tests/e2e)."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from mmseg.structures import SegDataSample

from wsss.datasets import PendingSeedSampler, VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.datasets.transforms import ResizeToMultiple
from wsss.io.seeds import write_label_map
from wsss.registry import MODELS

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'), (('train', 1),))


def test_resize_to_multiple_keeps_the_original_shape():
    out = ResizeToMultiple(16)(dict(img=np.zeros((50, 70, 3), np.uint8), ori_shape=(50, 70)))
    assert out['img'].shape == (64, 80, 3) and out['ori_shape'] == (50, 70)
    same = ResizeToMultiple(16)(dict(img=np.zeros((32, 48, 3), np.uint8), ori_shape=(32, 48)))
    assert same['img'].shape == (32, 48, 3)


def test_model_gives_a_seed_of_the_labelled_classes_at_image_size():
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TINY)).model)
    labels = np.zeros(20, np.uint8)
    labels[[7, 14]] = 1  # cat, person
    sample = SegDataSample(metainfo=dict(img_labels=labels, ori_shape=(40, 56)))
    torch.manual_seed(0)
    with torch.no_grad():  # as in mmengine's test loop: the model enables grad itself
        out, = model.predict([torch.randint(0, 255, (3, 48, 64), dtype=torch.uint8)], [sample])
    seed = out.pred_sem_seg.data[0].numpy()
    assert seed.shape == (40, 56) and set(np.unique(seed)) <= {0, 8, 15}
    assert out.cams.data.shape == (2, 40, 56) and out.metainfo['cam_class_ids'] == [8, 15]
    conf = out.seed_confidence.data.numpy()
    assert conf.min() >= 0 and conf.max() <= 1
    assert not any(p.requires_grad for p in model.parameters())


def test_an_image_without_labels_gets_an_all_background_seed():
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TINY)).model)
    sample = SegDataSample(metainfo=dict(img_labels=np.zeros(20, np.uint8), ori_shape=(40, 56)))
    with torch.no_grad():
        out, = model.predict([torch.zeros(3, 48, 64, dtype=torch.uint8)], [sample])
    assert (out.pred_sem_seg.data == 0).all() and out.cams.data.shape == (0, 40, 56)


def test_pending_sampler_skips_finished_images_and_shards_without_padding(voc_root, tmp_path,
                                                                          monkeypatch):
    dataset = VOC12Dataset(data_root=voc_root, split='train')  # img_a, img_b
    seed_dir = str(tmp_path / 'seeds')
    assert list(PendingSeedSampler(dataset, seed_dir)) == [0, 1]
    write_label_map(osp.join(seed_dir, 'img_a.png'), np.zeros((6, 8), np.uint8))
    open(osp.join(seed_dir, 'img_b.png.123.tmp'), 'w').write('half-written by a killed run')
    assert list(PendingSeedSampler(dataset, seed_dir)) == [1]
    assert os.listdir(seed_dir) == ['img_a.png']
    assert list(PendingSeedSampler(dataset, seed_dir, cam_dir=str(tmp_path / 'cams'))) == [0, 1]
    monkeypatch.setattr('wsss.datasets.samplers.get_dist_info', lambda: (1, 2))
    assert list(PendingSeedSampler(dataset, str(tmp_path / 'none'))) == [1]  # rank 1 of 2
    monkeypatch.setattr('wsss.datasets.samplers.get_dist_info', lambda: (0, 2))
    assert list(PendingSeedSampler(dataset, str(tmp_path / 'none'))) == [0]


def test_crf_seeder_in_the_model_ignores_unsure_pixels(mini_voc):
    cfg = Config.fromfile(osp.join(ROOT, TINY)).model
    cfg.seeder = dict(type='CRFSeeder', bg_power=1.0, confidence_threshold=0.95)
    model = MODELS.build(cfg)
    dataset = VOC12Dataset(data_root=mini_voc, split='train', pipeline=[
        dict(type='LoadImage'), dict(type='ResizeToMultiple'), dict(type='PackWSSSInputs')])
    data = dataset[0]
    with torch.no_grad():
        out, = model.predict([data['inputs']], [data['data_samples']])
    seed = out.pred_sem_seg.data[0].numpy()
    conf = out.seed_confidence.data[0].numpy()
    labelled = {c + 1 for c in np.flatnonzero(data['data_samples'].metainfo['img_labels'])}
    assert set(np.unique(seed)) <= {0, 255} | labelled
    np.testing.assert_array_equal(seed == 255, conf < 0.95)
