import os.path as osp

import numpy as np
import pytest
from conftest import VOC, voc_masks

from wsss.io.seeds import write_confidence, write_label_map
from wsss.registry import DATASETS

PIPELINE = [dict(type='LoadImage'), dict(type='LoadLabelMap'), dict(type='PackWSSSInputs')]


def write_seeds(seed_dir, names=('img_a', 'img_b')):
    seeds = {}
    for name in names:
        seed = voc_masks()[name][1].copy()
        seed[seed == 255] = 0
        write_label_map(osp.join(seed_dir, name + '.png'), seed)
        seeds[name] = seed
    return seeds


def pseudo_dataset(voc_root, seed_dir, **kwargs):
    return DATASETS.build(dict(
        type='PseudoLabelDataset', seed_dir=seed_dir, pipeline=PIPELINE,
        dataset=dict(type='VOC12Dataset', data_root=voc_root, split='train'), **kwargs))


def test_pseudo_label_dataset_trains_on_seeds(voc_root, tmp_path):
    seeds = write_seeds(str(tmp_path / 'seeds'))
    dataset = pseudo_dataset(voc_root, str(tmp_path / 'seeds'))
    assert dataset.metainfo['classes'][VOC['cat']] == 'cat'
    for i in range(2):
        sample = dataset[i]['data_samples']
        np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                      seeds[sample.metainfo['img_name']])
        assert sample.metainfo['img_labels'].sum() >= 1


def test_pseudo_label_dataset_names_missing_seeds(voc_root, tmp_path):
    write_seeds(str(tmp_path / 'seeds'), names=('img_a',))
    with pytest.raises(FileNotFoundError, match=r'1 of 2 seeds are missing .*img_b\.png'):
        pseudo_dataset(voc_root, str(tmp_path / 'seeds'))


def test_confidence_guided_loss_ignores_unsure_pixels(voc_root, tmp_path):
    seed_dir = str(tmp_path / 'seeds')
    seeds = write_seeds(seed_dir)
    conf = np.full((6, 8), 0.99)
    conf[:, :4] = 0.5
    conf[0, 7] = 0.95
    write_confidence(osp.join(seed_dir, 'img_a_conf.png'), conf)
    dataset = pseudo_dataset(voc_root, seed_dir, confidence_threshold=0.95)
    label = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    expected = seeds['img_a'].copy()
    expected[:, :4] = 255
    expected[0, 7] = 255  # 0.95 is stored as 242/255 = 0.949, below the threshold
    np.testing.assert_array_equal(label, expected)
    # img_b has no confidence file: used as it is
    np.testing.assert_array_equal(dataset[1]['data_samples'].gt_sem_seg.data[0].numpy(),
                                  seeds['img_b'])
