"""SAMS seeding on hand-built CAMs and masks (values worked out by hand)."""
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from wsss.io.sam_masks import save_masks
from wsss.models.seeders.sams import paint_masks, sams_seed
from wsss.registry import SEEDERS


def case():
    """2x5 image. CAM of class 3: 1 in column 0; CAM of class 8: 1 in column 3; column 4 (no mask)
    has 0.25 / 0.5. Masks: M1 columns 0-1 (level 0), M2 columns 1-3 (level 2), M3 column 3
    (level 1).

    Mean CAM inside each mask (class 3, class 8): M1 (0.5, 0), M2 (0, 1/3), M3 (0, 1).
    Min-max per class across the masks: class 3 -> (1, 0, 0); class 8 -> (0, 1/3, 1).
    Background (1 - max)^1: M1 0, M2 2/3, M3 0. Labels: M1 3 (conf 1), M2 background (conf 2/3),
    M3 8 (conf 1).
    """
    cams = torch.zeros(2, 2, 5)
    cams[0, :, 0] = 1
    cams[1, :, 3] = 1
    cams[0, :, 4], cams[1, :, 4] = 0.25, 0.5
    masks = torch.zeros(3, 2, 5, dtype=torch.bool)
    masks[0, :, 0:2] = True
    masks[1, :, 1:4] = True
    masks[2, :, 3] = True
    return cams, masks


def test_whole_masks_are_painted_last():
    cams, masks = case()
    seed, conf = sams_seed(cams, [3, 8], masks, levels=[0, 2, 1], bg_power=1.0)
    # M1, then M3, then M2 (whole) over columns 1-3; column 4: no mask -> background with the
    # pixel's own score (1 - 0.5)^1
    np.testing.assert_array_equal(seed, [[3, 0, 0, 0, 0]] * 2)
    np.testing.assert_allclose(conf, [[1, 2 / 3, 2 / 3, 2 / 3, 0.5]] * 2, atol=1e-6)


def test_at_the_same_level_the_confident_mask_wins():
    cams, masks = case()
    seed, conf = sams_seed(cams, [3, 8], masks, levels=[0, 1, 1], bg_power=1.0)
    # M2 (conf 2/3) before M3 (conf 1): column 3 shows M3's class 8
    np.testing.assert_array_equal(seed, [[3, 0, 0, 8, 0]] * 2)
    np.testing.assert_allclose(conf[0], [1, 2 / 3, 2 / 3, 1, 0.5], atol=1e-6)


def painted_in_order(masks: torch.Tensor, confidence: torch.Tensor, levels) -> np.ndarray:
    """The painting rule word for word: masks in ascending (level, confidence), ties in index
    order, each painted over the ones before."""
    winner = np.full(masks.shape[1], -1)
    for i in sorted(range(len(masks)), key=lambda i: (levels[i], float(confidence[i]), i)):
        winner[masks[i].numpy()] = i
    return winner


def test_paint_masks_is_the_painters_loop():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(60, 300, generator=g) < 0.3
    masks[:, :5] = False  # pixels no mask covers
    confidence = torch.randint(0, 4, (60,), generator=g).float() / 4  # many ties
    levels = torch.randint(0, 3, (60,), generator=g).tolist()
    expected = painted_in_order(masks, confidence, levels)
    assert (expected[:5] == -1).all() and len(np.unique(expected)) > 10
    np.testing.assert_array_equal(paint_masks(masks, confidence, levels), expected)


def test_background_power_and_empty_inputs():
    cams, masks = case()
    # power 0.6: M2's background score (2/3)^0.6 = 0.784 still beats its class-8 score 1/3
    seed, conf = sams_seed(cams, [3, 8], masks, levels=[0, 2, 1], bg_power=0.6)
    assert conf[0, 1] == np.float32((2 / 3) ** 0.6)
    seed, conf = sams_seed(cams, [3, 8], masks[:0], levels=[], bg_power=1.0)
    assert (seed == 0).all()
    seed, conf = sams_seed(cams[:0], [], masks, levels=[0, 2, 1])
    assert (seed == 0).all() and (conf == 1).all()


def test_sams_seeder_reads_stored_masks(tmp_path):
    cams, masks = case()
    records = []
    for m, level in zip(masks.numpy(), [0, 2, 1]):
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        records.append(dict(segmentation=rle, level=level, predicted_iou=0.9,
                            stability_score=0.95, area=int(m.sum()), bbox=[0, 0, 1, 1]))
    save_masks(str(tmp_path / 'img.json'), records, (2, 5))
    seeder = SEEDERS.build(dict(type='SAMSSeeder', mask_dir=str(tmp_path), bg_power=1.0))
    seed, conf = seeder(cams, [3, 8], dict(img_name='img'))
    np.testing.assert_array_equal(seed, [[3, 0, 0, 0, 0]] * 2)
    with pytest.raises(FileNotFoundError, match='tools/sam_masks.py'):
        seeder(cams, [3, 8], dict(img_name='other'))
