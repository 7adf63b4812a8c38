"""metrics.json and per_image.csv of an evaluation, against a two-image case worked by hand:
from seed folders (SegStats) and from stage two's test metric (SegMetric, the numbers of
mmseg's IoUMetric)."""
import csv
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.evaluation import IoUMetric

from wsss.evaluation import SegMetric, SegStats, read_metrics, read_per_image, write_metrics
from wsss.io.seeds import read_label_map

CLASSES = ('background', 'cat', 'dog')
X = 255
# image a (2x3): bg 3 px (one predicted cat), cat 3 px (one predicted bg)
GT_A = np.array([[0, 0, 1], [0, 1, 1]], np.uint8)
PRED_A = np.array([[0, 1, 1], [0, 1, 0]], np.uint8)
# image b (2x2): dog 2 px, bg 1 px, one GT pixel ignored (its prediction counts nowhere)
GT_B = np.array([[2, 2], [0, X]], np.uint8)
PRED_B = np.array([[2, 2], [0, 0]], np.uint8)
# per image: a: bg 2 / (3 + 3 - 2) = 0.5, cat 2 / 4 = 0.5 -> mIoU 50; b: bg 1, dog 1 -> 100
# dataset: tp (3, 2, 2), GT (4, 3, 2), predicted (4, 3, 2)
# IoU bg 3 / 5, cat 2 / 4, dog 2 / 2 -> mIoU 70; aAcc 7 / 9; mAcc mean(3/4, 2/3, 1)
HAND = dict(mIoU=70.0, aAcc=700 / 9, mAcc=100 * (3 / 4 + 2 / 3 + 1) / 3)


def check_files(out_dir: str, img_paths: dict, predictions) -> None:
    numbers = read_metrics(out_dir)
    for key, value in HAND.items():
        assert numbers[key] == pytest.approx(value)
    cat = numbers['per_class']['cat']
    assert cat['iou'] == pytest.approx(50) and cat['precision'] == pytest.approx(200 / 3)
    assert cat['recall'] == pytest.approx(200 / 3)
    assert (cat['gt_pixels'], cat['pred_pixels'], cat['tp_pixels']) == (3, 3, 2)
    assert numbers['per_class']['dog']['iou'] == pytest.approx(100)
    assert numbers['confusion'] == [[3, 1, 0], [1, 2, 0], [0, 0, 2]]
    assert numbers['num_images'] == 2 and numbers['classes'] == list(CLASSES)
    assert numbers['predictions'] == predictions
    with open(osp.join(out_dir, 'per_image.csv'), newline='') as f:
        rows = list(csv.reader(f))
    assert rows == [['image', 'mIoU', 'background', 'cat', 'dog', 'img_path', 'gt_path'],
                    ['a', '50.00', '50.00', '50.00', '', *img_paths['a']],
                    ['b', '100.00', '100.00', '', '100.00', *img_paths['b']]]
    a, b = read_per_image(out_dir)
    assert a['ious'] == {'background': 50.0, 'cat': 50.0} and b['mIoU'] == 100.0


def test_seed_stats_write_the_hand_computed_files(tmp_path):
    stats = SegStats(3)
    stats.update(PRED_A, GT_A, 'a')
    stats.update(PRED_B, GT_B, 'b')
    paths = dict(a=('a.jpg', 'a.png'), b=('b.jpg', 'b.png'))
    write_metrics(str(tmp_path), stats, CLASSES, 'seeds', predictions='seeds', image_paths=paths)
    check_files(str(tmp_path), paths, 'seeds')
    assert read_metrics(str(tmp_path / 'metrics.json'))['kind'] == 'seeds'


def sample(name: str, pred: np.ndarray, gt: np.ndarray) -> dict:
    return dict(img_name=name, img_path=f'{name}.jpg', seg_map_path=f'{name}.png',
                pred_sem_seg=dict(data=torch.from_numpy(pred.astype(np.int64))[None]),
                gt_sem_seg=dict(data=torch.from_numpy(gt.astype(np.int64))[None]))


def test_stage_two_metric_has_mmseg_numbers_and_writes_the_files(tmp_path):
    samples = [sample('a', PRED_A, GT_A), sample('b', PRED_B, GT_B)]
    ours = SegMetric(out_dir=str(tmp_path / 'run'), output_dir=str(tmp_path / 'pred'))
    mmseg = IoUMetric(iou_metrics=['mIoU'])
    for metric in (ours, mmseg):
        metric.dataset_meta = dict(classes=CLASSES)
        metric.process({}, samples)
    numbers = ours.compute_metrics(ours.results)
    assert numbers == mmseg.compute_metrics(mmseg.results)  # both rounded to 0.01
    assert numbers == {k: round(v, 2) for k, v in HAND.items()}
    paths = dict(a=('a.jpg', 'a.png'), b=('b.jpg', 'b.png'))
    check_files(str(tmp_path / 'run'), paths, str(tmp_path / 'pred'))
    np.testing.assert_array_equal(read_label_map(str(tmp_path / 'pred' / 'b.png')), PRED_B)


def test_a_file_that_is_not_a_metrics_file_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='metrics.json not found'):
        read_metrics(str(tmp_path))
    (tmp_path / 'metrics.json').write_text(json.dumps(dict(mIoU=3)))
    with pytest.raises(ValueError, match='no per-class numbers'):
        read_metrics(str(tmp_path))
