import os
import os.path as osp

import numpy as np
from conftest import VOC, run_tool
from scipy.io import savemat

from wsss.datasets import VOC12Dataset, read_label_map


def test_voc_aug_converter_writes_masks_and_train_aug(voc_root, tmp_path):
    sbd = tmp_path / 'benchmark_RELEASE' / 'dataset'
    os.makedirs(sbd / 'cls')
    # SBD has img_a (train in VOC) and a new image img_s; img_c is VOC val and stays out.
    sbd_a = np.zeros((6, 8), np.uint8)
    sbd_a[1:4, 1:4] = VOC['cat']
    sbd_s = np.full((6, 8), VOC['horse'], np.uint8)
    for name, mask in (('img_a', sbd_a), ('img_s', sbd_s), ('img_c', sbd_a)):
        savemat(str(sbd / 'cls' / f'{name}.mat'),
                {'GTcls': {'Segmentation': mask, 'Boundaries': np.zeros(1)}})
    (sbd / 'train.txt').write_text('img_a\nimg_s\n')
    (sbd / 'val.txt').write_text('img_c\n')
    out = run_tool('tools/dataset_converters/voc_aug.py', voc_root,
                   str(tmp_path / 'benchmark_RELEASE'))
    assert out.returncode == 0, out.stderr
    assert 'train_aug: 3 images' in out.stdout
    lst = open(osp.join(voc_root, 'ImageSets', 'Segmentation', 'train_aug.txt')).read().split()
    assert lst == ['img_a', 'img_b', 'img_s']
    aug = osp.join(voc_root, 'SegmentationClassAug')
    np.testing.assert_array_equal(read_label_map(osp.join(aug, 'img_a.png')), sbd_a)
    np.testing.assert_array_equal(read_label_map(osp.join(aug, 'img_s.png')), sbd_s)
    # img_b is not in SBD: its VOC mask is copied
    np.testing.assert_array_equal(
        read_label_map(osp.join(aug, 'img_b.png')),
        read_label_map(osp.join(voc_root, 'SegmentationClass', 'img_b.png')))
    # the dataset's train_aug split reads it (img_s has no JPEG here: labels only)
    dataset = VOC12Dataset(data_root=voc_root, split='train_aug', lazy_init=True)
    dataset.full_init()
    labels = {dataset.get_data_info(i)['img_name']: dataset.get_data_info(i)['img_labels']
              for i in range(len(dataset))}
    assert labels['img_s'][VOC['horse'] - 1] == 1 and labels['img_s'].sum() == 1
