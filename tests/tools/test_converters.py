import os
import os.path as osp

import numpy as np
from conftest import COCO, VOC, coco_expected
from scipy.io import savemat
from test_datasets import PIPELINE, RELEASED_LINES, coco_label_list

from wsss.datasets import VOC12Dataset
from wsss.datasets.base import read_label_list
from wsss.datasets.coco import category_to_label, compare_labels, load_coco
from wsss.io.seeds import read_label_map
from wsss.registry import DATASETS


def test_voc_aug_converter_writes_masks_and_train_aug(voc_root, tmp_path, tool_here):
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
    out = tool_here('tools/dataset_converters/voc_aug.py', voc_root,
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


def test_coco_label_comparison_with_a_released_list(coco_root, tmp_path, tool_here):
    """The list drops image 1's dog, keeps image 2's crowd-only car, and names three images the
    annotations lack; image 3 has no annotation and is in neither."""
    path = coco_label_list(tmp_path)
    ann_file = osp.join(coco_root, 'annotations', 'instances_train2014.json')
    coco = load_coco(ann_file)
    diff = compare_labels(coco, category_to_label(coco, ann_file),
                          read_label_list(path, len(COCO)))
    assert (diff['listed'], diff['annotated']) == (5, 2)
    assert diff['only_listed'] == [line.split()[0] for line in RELEASED_LINES]
    assert diff['only_annotated'] == []
    assert diff['differ'] == ['COCO_train2014_000000000001']
    assert diff['extra_annotated'] == {COCO['dog']: 1} and not diff['extra_listed']
    assert (diff['crowd_only'], diff['crowd_only_listed']) == (1, 1)

    out = tool_here('tools/dataset_converters/coco14.py', coco_root, '--compare-labels', path)
    assert out.returncode == 0, out.stderr
    assert 'images: 5 listed, 2 with annotations' in out.stdout
    assert 'only in the list: 3 COCO_train2014_000000000009' in out.stdout
    assert 'classes differ: 1 COCO_train2014_000000000001' in out.stdout
    assert 'classes only in the annotations: dog 1' in out.stdout
    assert 'crowd annotations only: 1, 1 of them in the list' in out.stdout
    assert not osp.exists(osp.join(coco_root, 'SegmentationClass'))  # compares, writes nothing


def test_coco_converter_writes_gt_the_dataset_loads(coco_root, tool_here):
    out = tool_here('tools/dataset_converters/coco14.py', coco_root, '--splits', 'train')
    assert out.returncode == 0, out.stderr
    assert 'train: wrote 2 masks' in out.stdout
    dataset = DATASETS.build(dict(type='COCO14Dataset', data_root=coco_root, split='train',
                                  pipeline=PIPELINE))
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        stem = sample.metainfo['img_name']
        np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                      coco_expected()[stem]['gt'])
    again = tool_here('tools/dataset_converters/coco14.py', coco_root, '--splits', 'train')
    assert 'train: wrote 0 masks' in again.stdout
