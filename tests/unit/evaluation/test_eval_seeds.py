import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import VOC, voc_masks
from pycocotools import mask as mask_utils

from wsss.evaluation import SegStats, best_power, evaluate_seed_dir, format_table, search_bg_power
from wsss.evaluation.seed_writer import write_image
from wsss.io.cams import load_cams, save_cams
from wsss.io.sam_masks import decode_masks, load_masks, save_masks
from wsss.io.seeds import SeedError, read_label_map, write_label_map
from wsss.models.seeders.sams import SAMSSeeder, sams_seed

X = 255
N_VOC = 21


def hand_stats() -> SegStats:
    """4 classes, the 4th appearing nowhere; 255 in the GT (ignored) and in the seed."""
    gt = np.array([[0, 0, 1, 1],
                   [0, 0, 1, 1],
                   [2, 2, 2, X],
                   [2, 2, X, X]], np.uint8)
    pred = np.array([[0, 0, 1, 1],
                     [0, 0, X, 1],
                     [2, 0, 2, 2],
                     [X, 2, 2, 0]], np.uint8)
    stats = SegStats(4)
    stats.update(pred, gt)
    return stats


def test_seg_stats_by_hand():
    stats = hand_stats()
    # GT 0: 4 pixels, all predicted 0. GT 1: 4 pixels, 3 predicted 1, one left at 255.
    # GT 2: 5 pixels, 3 predicted 2, one 0, one 255. The three GT-255 pixels count nowhere.
    np.testing.assert_array_equal(stats.confusion[:3, :3], [[4, 0, 0], [0, 3, 0], [1, 0, 3]])
    np.testing.assert_array_equal(stats.unlabeled, [0, 1, 1, 0])
    # GT pixels (4, 4, 5, 0), predicted pixels (5, 3, 3, 0), true positives (4, 3, 3, 0)
    # IoU = tp / (gt + pred - tp): 4/5, 3/4, 3/5; class 3 is 0/0 = NaN
    np.testing.assert_allclose(stats.iou[:3], [0.8, 0.75, 0.6])
    np.testing.assert_allclose(stats.precision[:3], [4 / 5, 3 / 3, 3 / 3])
    np.testing.assert_allclose(stats.recall[:3], [4 / 4, 3 / 4, 3 / 5])
    assert np.isnan(stats.iou[3]) and np.isnan(stats.precision[3]) and np.isnan(stats.recall[3])
    # mIoU over the 3 classes that appear: (0.8 + 0.75 + 0.6) / 3
    assert stats.miou == pytest.approx(2.15 / 3)
    # 10 of the 13 GT pixels right; the unlabeled ones count as wrong
    assert stats.accuracy == pytest.approx(10 / 13)

    table = format_table(stats, ['bg', 'a', 'b', 'nowhere'])
    assert 'mIoU: 71.67' in table and 'aAcc: 76.92' in table
    assert '| 75.00 |   100.00  | 75.00  |' in table
    assert 'nowhere' not in table


def test_seg_stats_merge_and_false_positive_class():
    stats = hand_stats()
    other = SegStats(4)
    other.update(np.full((2, 2), 3, np.uint8), np.zeros((2, 2), np.uint8))
    stats.merge(other)
    # class 3 predicted on 4 background pixels: IoU 0 now counts in the mean;
    # class 0: tp 4, gt 4 + 4, pred 5 -> 4 / (8 + 5 - 4) = 4/9
    np.testing.assert_allclose(stats.iou, [4 / 9, 0.75, 0.6, 0.0])
    assert stats.miou == pytest.approx((4 / 9 + 0.75 + 0.6 + 0) / 4)
    with pytest.raises(ValueError, match=r'predicted values \[7\]'):
        other.update(np.full((2, 2), 7, np.uint8), np.zeros((2, 2), np.uint8))


def write_hand_seeds(seed_dir: str, names=('img_a', 'img_b')) -> None:
    """Seeds of the voc_root train split (img_a, img_b; 6x8), changed from the GT on purpose."""
    a = voc_masks()['img_a'][1].copy()
    a[0, :] = 0                  # the GT's 255 row: ignored whatever the seed says
    a[1:4, 1] = 0                # cat column 1 (3 pixels) missed as background
    a[5, 0] = 255                # one background pixel left unlabeled
    b = voc_masks()['img_b'][1].copy()
    b[2:6, 5] = VOC['dog']       # dog spills onto 4 background pixels
    for name, seed in dict(img_a=a, img_b=b).items():
        if name in names:
            write_label_map(osp.join(seed_dir, name + '.png'), seed)


# GT pixels (img_a rows 1..5 + img_b): background 25 + 28 = 53, cat 9, person 6, dog 20.
# background: tp 24 + 24 = 48; predicted 24 + 3 (cat column) + 24 = 51 -> 48 / (53 + 51 - 48) = 6/7
# cat: 6 / 9; person: 6 / 6; dog: tp 20, predicted 24 -> 20 / 24
HAND_MIOU = (6 / 7 + 6 / 9 + 1 + 20 / 24) / 4  # 0.8393


def test_evaluate_seed_dir(voc_root, tmp_path):
    seed_dir = str(tmp_path / 'seeds')
    write_hand_seeds(seed_dir)
    samples = [(n, osp.join(voc_root, 'SegmentationClass', n + '.png')) for n in ('img_a', 'img_b')]
    stats = evaluate_seed_dir(samples, seed_dir, N_VOC)
    assert stats.miou == pytest.approx(HAND_MIOU)
    assert stats.iou[VOC['dog']] == pytest.approx(20 / 24)
    np.testing.assert_array_equal(evaluate_seed_dir(samples, seed_dir, N_VOC, nproc=2).confusion,
                                  stats.confusion)

    write_label_map(osp.join(seed_dir, 'img_b.png'), np.zeros((5, 8), np.uint8))
    with pytest.raises(SeedError, match=r'img_b\.png: size 8x5 .* differs'):
        evaluate_seed_dir(samples, seed_dir, N_VOC)
    os.remove(osp.join(seed_dir, 'img_b.png'))
    with pytest.raises(FileNotFoundError, match=r'1 of 2 seeds are missing, first: .*img_b\.png'):
        evaluate_seed_dir(samples, seed_dir, N_VOC)


def test_save_load_cams_round_trip(tmp_path):
    cams = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)
    path = str(tmp_path / 'cams' / 'img')  # no .npz: written under exactly this name
    save_cams(path, [3, 15], cams)
    assert os.listdir(tmp_path / 'cams') == ['img']
    class_ids, loaded = load_cams(path)
    np.testing.assert_array_equal(class_ids, [3, 15])
    assert loaded.dtype == np.float32 and loaded.shape == (2, 5, 7)
    np.testing.assert_allclose(loaded, cams, atol=2 ** -11)  # float16 in [0, 1]

    save_cams(str(tmp_path / 'cams' / 'empty.npz'), [], np.zeros((0, 5, 7)))
    class_ids, loaded = load_cams(str(tmp_path / 'cams' / 'empty.npz'))
    assert class_ids.shape == (0,) and loaded.shape == (0, 5, 7)
    assert sorted(os.listdir(tmp_path / 'cams')) == ['empty.npz', 'img']


def write_hand_cams(cam_dir: str) -> None:
    """CAMs of the voc_root train split whose best background power is 2 by construction.

    The cat CAM is 0.4 on the cat: background wins at power 1 ((1 - 0.4)^1 = 0.6 > 0.4), cat at
    powers 2 and 3 (0.36, 0.216). It is 0.35 on 4 background pixels: background at powers 1 and 2
    (0.65, 0.4225 > 0.35), cat at power 3 (0.2746). Person and dog are 0.9 on themselves.
    """
    a = voc_masks()['img_a'][1]
    cat = np.where(a == VOC['cat'], 0.4, 0.0)
    cat[5, 0:4] = 0.35
    person = np.where(a == VOC['person'], 0.9, 0.0)
    save_cams(osp.join(cam_dir, 'img_a.npz'), [VOC['cat'], VOC['person']],
              np.stack([cat, person]))
    dog = np.where(voc_masks()['img_b'][1] == VOC['dog'], 0.9, 0.0)
    save_cams(osp.join(cam_dir, 'img_b.npz'), [VOC['dog']], dog[None])


def test_search_bg_power(voc_root, tmp_path):
    cam_dir = str(tmp_path / 'cams')
    write_hand_cams(cam_dir)
    samples = [(n, osp.join(voc_root, 'SegmentationClass', n + '.png')) for n in ('img_a', 'img_b')]
    results = search_bg_power(samples, cam_dir, N_VOC, powers=(1, 2, 3))
    # power 1: cat (9 px) all background -> background 53 / (53 + 62 - 53), cat 0
    assert results[1].miou == pytest.approx((53 / 62 + 0 + 1 + 1) / 4)
    # power 2: the seed is the GT
    assert results[2].miou == pytest.approx(1.0)
    # power 3: 4 background pixels become cat -> background 49 / 53, cat 9 / 13
    assert results[3].miou == pytest.approx((49 / 53 + 9 / 13 + 1 + 1) / 4)
    assert best_power(results) == 2
    parallel = search_bg_power(samples, cam_dir, N_VOC, powers=(1, 2, 3), nproc=2)
    for p in (1, 2, 3):
        np.testing.assert_array_equal(parallel[p].confusion, results[p].confusion)


# ------------------------------------------------ raw CAM files keep a weak class's values

def weak_class_case(tmp_path):
    """Raw CAMs (2x6) of a strong class 3 and a weak class 7 (raw maximum 1e-9), three whole-level
    SAM masks A = columns 0-1, B = 1-3, C = 4-5, and the GT (class 3 on columns 1-5).

    SAMS mask scores, normalised per class across the masks: class 3 has means A .495, B .99667,
    C 1 -> 0, .9934, 1; class 7 has A 1e-9, B 3.3e-10, C 0 -> A 1e-9 / (1e-9 + 1e-7) = .0099.
    At power 1, A is background with confidence 1 - .0099 = .9901 < B's .9934, so B, painted
    later, takes the shared column 1. In float16, 1e-9 is 0: A's confidence is 1 > .9934, A is
    painted last and column 1 turns background.
    """
    cams = np.zeros((2, 2, 6), np.float32)
    cams[0, :, 1], cams[0, :, 2:] = .99, 1.0
    cams[1, :, :2] = 1e-9
    records = []
    for cols in (slice(0, 2), slice(1, 4), slice(4, 6)):
        m = np.zeros((2, 6), np.uint8)
        m[:, cols] = 1
        records.append(dict(segmentation=mask_utils.encode(np.asfortranarray(m)), level=2,
                            predicted_iou=0.9, stability_score=0.95, area=int(m.sum()),
                            bbox=[0, 0, 1, 1]))
    save_masks(str(tmp_path / 'masks' / 'img.json'), records, (2, 6))
    gt = np.zeros((2, 6), np.uint8)
    gt[:, 1:] = 3
    write_label_map(str(tmp_path / 'gt.png'), gt)
    return cams, gt


def test_raw_cams_are_saved_in_float32_and_normalised_ones_in_float16(tmp_path):
    cams = np.full((1, 2, 3), 1e-9, np.float32)
    save_cams(str(tmp_path / 'raw.npz'), [7], cams, raw=True)
    save_cams(str(tmp_path / 'norm.npz'), [7], cams)
    with np.load(str(tmp_path / 'raw.npz')) as raw, np.load(str(tmp_path / 'norm.npz')) as norm:
        assert raw['cams'].dtype == np.float32 and norm['cams'].dtype == np.float16
    np.testing.assert_array_equal(load_cams(str(tmp_path / 'raw.npz'))[1], cams)
    assert not load_cams(str(tmp_path / 'norm.npz'))[1].any()  # below float16's range


def test_power_search_on_saved_raw_cams_gives_the_seeds_of_the_run(tmp_path):
    """The writer seeds the image (SAMS, as a deferred seeder) and saves its raw CAMs; the
    power search over the saved file gives that run's seed at the run's power, and the
    float16 copy of the same CAMs would not (the fixture tells them apart)."""
    cams, gt = weak_class_case(tmp_path)
    mask_dir, cam_dir, seed_dir = (str(tmp_path / d) for d in ('masks', 'cams', 'seeds'))
    task = dict(metainfo=dict(img_name='img', cam_class_ids=[3, 7], raw_cams=True), cams=cams,
                seeder=SAMSSeeder(mask_dir, bg_power=1.0))
    write_image(dict(cam_dir=cam_dir, seed_dir=seed_dir, save_confidence=False, show_dir=None,
                     classes=None), task)
    seed = read_label_map(osp.join(seed_dir, 'img.png'))
    np.testing.assert_array_equal(seed, gt)  # column 1 is class 3
    results = search_bg_power([('img', str(tmp_path / 'gt.png'))], cam_dir, N_VOC, (0.5, 1.0),
                              mask_dir=mask_dir)
    direct = SegStats(N_VOC)
    direct.update(seed, gt)
    np.testing.assert_array_equal(results[1.0].confusion, direct.confusion)
    assert results[1.0].miou == pytest.approx(1.0)
    masks, levels = torch.from_numpy(decode_masks(load_masks(osp.join(mask_dir, 'img.json')),
                                                  (2, 6))), [2, 2, 2]
    half, _ = sams_seed(cams.astype(np.float16).astype(np.float32), [3, 7], masks, levels, 1.0)
    assert (half[:, 1] == 0).all()


def test_a_confidence_that_is_not_a_number_writes_nothing_and_fails_the_image(tmp_path):
    """One NaN pixel in an image's confidence: no seed, no confidence PNG, one failure naming
    the image; the same image with finite numbers is written."""
    seed_dir = str(tmp_path / 'seeds')
    outputs = dict(cam_dir=None, seed_dir=seed_dir, save_confidence=True, show_dir=None,
                   classes=None)
    seed = np.array([[0, 3], [3, 3]], np.uint8)
    confidence = np.array([[.5, np.nan], [1, .25]], np.float32)
    task = dict(metainfo=dict(img_name='img', img_path='/data/img.jpg'), seed=seed,
                confidence=confidence)
    name, _, failure, _ = write_image(outputs, task)
    assert name == 'img' and failure[0] == '/data/img.jpg'
    assert failure[1].startswith('its seed confidence is NaN or infinite at 1 of 4 pixels')
    assert not osp.exists(seed_dir) or os.listdir(seed_dir) == []
    task['confidence'] = np.nan_to_num(confidence, nan=0.75)
    assert write_image(outputs, task)[2] is None
    np.testing.assert_array_equal(read_label_map(osp.join(seed_dir, 'img.png')), seed)
    assert sorted(os.listdir(seed_dir)) == ['img.png', 'img_conf.png']
