import os
import os.path as osp

import numpy as np
import pytest
from conftest import COCO, VOC, coco_expected, voc_masks, write_image
from PIL import Image

from wsss.datasets import (
    COCO14Dataset,
    ImageFolderDataset,
    ImageLoadError,
    VOC12Dataset,
    coco_semantic_mask,
)
from wsss.datasets.coco import category_to_label, load_coco
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.seeds import SeedError, read_label_map, write_label_map
from wsss.registry import DATASETS

PIPELINE = [dict(type='LoadImage'), dict(type='LoadLabelMap'), dict(type='PackWSSSInputs')]


def labels_by_name(dataset):
    return {dataset.get_data_info(i)['img_name']:
            [int(c) + 1 for c in np.flatnonzero(dataset.get_data_info(i)['img_labels'])]
            for i in range(len(dataset))}


def test_voc_labels_from_masks_and_xml(voc_root):
    from_mask = VOC12Dataset(data_root=voc_root, split='train')
    assert labels_by_name(from_mask) == {'img_a': [VOC['cat'], VOC['person']],
                                         'img_b': [VOC['dog']]}
    from_xml = VOC12Dataset(data_root=voc_root, split='train', label_source='xml')
    assert labels_by_name(from_xml) == {'img_a': [VOC['cat'], VOC['person']],
                                        'img_b': [VOC['bottle'], VOC['dog']]}
    val = VOC12Dataset(data_root=voc_root, split='val')
    assert labels_by_name(val) == {'img_c': []}
    assert len(from_mask.get_data_info(0)['img_labels']) == 20


def test_voc_pipeline_gives_gt_and_labels_in_metainfo(voc_root):
    dataset = DATASETS.build(dict(type='VOC12Dataset', data_root=voc_root, split='train',
                                  pipeline=PIPELINE))
    sample = dataset[0]['data_samples']
    expected = voc_masks()['img_a'][1]
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), expected)
    labels = sample.metainfo['img_labels']
    assert labels.shape == (20,) and labels.sum() == 2
    assert labels[VOC['cat'] - 1] == 1 and labels[VOC['person'] - 1] == 1
    assert sample.metainfo['img_name'] == 'img_a'


def test_voc_labels_are_cached_and_refreshed_when_a_mask_changes(voc_root):
    assert labels_by_name(VOC12Dataset(data_root=voc_root, split='val')) == {'img_c': []}
    mask = np.zeros((6, 8), np.uint8)
    mask[0:2, 0:2] = VOC['sheep']
    path = osp.join(voc_root, 'SegmentationClass', 'img_c.png')
    write_label_map(path, mask)
    os.utime(path, ns=(10**18, 10**18))
    assert labels_by_name(VOC12Dataset(data_root=voc_root, split='val')) == {
        'img_c': [VOC['sheep']]}


def test_voc_train_aug_without_list_says_how_to_make_it(voc_root):
    with pytest.raises(FileNotFoundError, match='voc_aug.py'):
        VOC12Dataset(data_root=voc_root, split='train_aug')


def test_coco_labels_masks_crowd_and_empty(coco_root):
    dataset = COCO14Dataset(data_root=coco_root, split='train')
    expected = coco_expected()
    assert labels_by_name(dataset) == {
        stem: e['labels'] for stem, e in expected.items() if e['labels']}
    keep_empty = COCO14Dataset(data_root=coco_root, split='train', drop_empty=False)
    assert labels_by_name(keep_empty)['COCO_train2014_000000000003'] == []
    ignore_crowd = COCO14Dataset(data_root=coco_root, split='train', crowd='ignore')
    assert list(labels_by_name(ignore_crowd)) == ['COCO_train2014_000000000001']

    coco = load_coco(dataset.ann_file)
    cat_to_label = category_to_label(coco, dataset.ann_file)
    for stem, e in expected.items():
        np.testing.assert_array_equal(coco_semantic_mask(coco, e['id'], cat_to_label), e['gt'])
    crowd_ignored = coco_semantic_mask(coco, 2, cat_to_label, crowd='ignore')
    assert set(np.unique(crowd_ignored)) == {0, 255}


def test_coco_refuses_a_json_with_other_categories(coco_root):
    import json
    path = osp.join(coco_root, 'annotations', 'instances_train2014.json')
    data = json.load(open(path))
    data['categories'][0]['name'] = 'unicorn'
    json.dump(data, open(path, 'w'))
    with pytest.raises(ValueError, match='instances_train2014.json'):
        COCO14Dataset(data_root=coco_root, split='train')


def write_folder(tmp_path, lines):
    for name in ('a.jpg', 'sub/b.png', 'c.jpg'):
        write_image(str(tmp_path / 'images' / name), 5, 7)
    labels = tmp_path / 'labels.csv'
    labels.write_text('\n'.join(lines) + '\n')
    return str(tmp_path / 'images'), str(labels)


def test_folder_dataset_reads_labels(tmp_path):
    img_dir, labels = write_folder(tmp_path, ['# image, classes', 'a.jpg, dog, traffic light',
                                              'sub/b.png,cat', 'c.jpg'])
    dataset = ImageFolderDataset(img_dir=img_dir, labels_file=labels,
                                 classes=['cat', 'dog', 'traffic light'])
    assert dataset.metainfo['classes'] == ('background', 'cat', 'dog', 'traffic light')
    assert labels_by_name(dataset) == {'a': [2, 3], 'sub/b': [1], 'c': []}


def test_folder_dataset_unknown_class_names_file_and_line(tmp_path):
    img_dir, labels = write_folder(tmp_path, ['a.jpg,dog', 'c.jpg,horse'])
    with pytest.raises(ValueError, match=r"labels\.csv:2: unknown class 'horse'"):
        ImageFolderDataset(img_dir=img_dir, labels_file=labels, classes=['cat', 'dog'])


def test_truncated_jpeg_error_names_the_file(voc_root):
    path = osp.join(voc_root, 'JPEGImages', 'img_a.jpg')
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    dataset = DATASETS.build(dict(type='VOC12Dataset', data_root=voc_root, split='train',
                                  pipeline=PIPELINE))
    with pytest.raises(ImageLoadError, match='img_a.jpg'):
        dataset[0]


def test_label_map_out_of_range_and_wrong_size_name_the_file(voc_root):
    dataset = DATASETS.build(dict(type='VOC12Dataset', data_root=voc_root, split='train',
                                  pipeline=PIPELINE))
    bad = np.zeros((6, 8), np.uint8)
    bad[0, 0] = 37
    write_label_map(osp.join(voc_root, 'SegmentationClass', 'img_a.png'), bad)
    with pytest.raises(SeedError, match=r'img_a\.png: values \[37\] are outside 0\.\.20'):
        dataset[0]
    write_label_map(osp.join(voc_root, 'SegmentationClass', 'img_b.png'),
                    np.zeros((5, 8), np.uint8))
    with pytest.raises(SeedError, match=r'img_b\.png: size 8x5 \(WxH\) differs'):
        dataset[1]


def test_label_map_round_trip_keeps_values_and_palette(tmp_path):
    label = np.array([[0, 1, 20], [255, 7, 0]], np.uint8)
    path = str(tmp_path / 'x' / 'seed.png')
    write_label_map(path, label)
    np.testing.assert_array_equal(read_label_map(path), label)
    img = Image.open(path)
    assert img.mode == 'P' and img.getpalette()[3:6] == [128, 0, 0]
    assert not [f for f in os.listdir(tmp_path / 'x') if f.endswith('.tmp')]


def test_synthetic_tree_is_deterministic_and_loads(tmp_path):
    a = make_synthetic_voc(str(tmp_path / 'a'), (('train', 3), ('val', 2)), seed=1)
    b = make_synthetic_voc(str(tmp_path / 'b'), (('train', 3), ('val', 2)), seed=1)
    for name in ('train_0000', 'val_0001'):
        np.testing.assert_array_equal(
            read_label_map(osp.join(a, 'SegmentationClass', name + '.png')),
            read_label_map(osp.join(b, 'SegmentationClass', name + '.png')))
    mask_labels = labels_by_name(VOC12Dataset(data_root=a, split='train'))
    xml_labels = labels_by_name(VOC12Dataset(data_root=a, split='train', label_source='xml'))
    assert mask_labels == xml_labels and all(mask_labels.values())


# The first lines of the released CLIP-ES coco14/train.txt (0-based ids: 45 bowl, 49 orange,
# 50 broccoli; 23 giraffe; 58 potted plant, 75 vase), after two lines for the coco_root images:
# image 1 without its dog, image 2 with its crowd-only car (0-based id = class id - 1).
RELEASED_LINES = ['COCO_train2014_000000000009 45 49 50', 'COCO_train2014_000000000025 23',
                  'COCO_train2014_000000000030 58 75']


def write_label_list(path, lines) -> str:
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def coco_label_list(tmp_path) -> str:
    return write_label_list(tmp_path / 'train.txt', [
        f"COCO_train2014_000000000002 {COCO['car'] - 1}",
        f"COCO_train2014_000000000001 {COCO['person'] - 1}", *RELEASED_LINES])


def test_coco_images_and_labels_from_a_released_list(coco_root, tmp_path):
    dataset = COCO14Dataset(data_root=coco_root, split='train',
                            labels_from=coco_label_list(tmp_path))
    assert labels_by_name(dataset) == {  # the list's order and labels, not the annotations'
        'COCO_train2014_000000000002': [COCO['car']],
        'COCO_train2014_000000000001': [COCO['person']],
        'COCO_train2014_000000000009': [COCO['bowl'], COCO['orange'], COCO['broccoli']],
        'COCO_train2014_000000000025': [COCO['giraffe']],
        'COCO_train2014_000000000030': [COCO['potted plant'], COCO['vase']]}
    info = dataset.get_data_info(1)
    assert info['img_path'] == osp.join(coco_root, 'train2014', 'COCO_train2014_000000000001.jpg')
    assert 'seg_map_path' not in info  # no GT PNGs made yet


def test_voc_images_and_labels_from_a_list(voc_root, tmp_path):
    path = write_label_list(tmp_path / 'list.txt', [f"img_b {VOC['horse'] - 1}",
                                                    f"img_a {VOC['cat'] - 1} {VOC['sheep'] - 1}"])
    dataset = VOC12Dataset(data_root=voc_root, split='val', labels_from=path)
    assert labels_by_name(dataset) == {'img_b': [VOC['horse']],
                                       'img_a': [VOC['cat'], VOC['sheep']]}
    assert dataset.get_data_info(0)['seg_map_path'].endswith('SegmentationClass/img_b.png')


@pytest.mark.parametrize('line,message', [('img_a 20', r'list.txt, line 2: class ids \[.20.\]'),
                                          ('img_a -1', 'not integers in 0..19'),
                                          ('img_a cat', 'line 2'),
                                          ('img_b 3', 'line 2: img_b is listed twice')])
def test_label_list_errors_name_the_file_and_line(voc_root, tmp_path, line, message):
    path = write_label_list(tmp_path / 'list.txt', ['img_b 1', line])
    with pytest.raises(ValueError, match=message):
        VOC12Dataset(data_root=voc_root, split='val', labels_from=path)
    with pytest.raises(FileNotFoundError, match='labels_from'):
        VOC12Dataset(data_root=voc_root, split='val', labels_from=str(tmp_path / 'none.txt'))
