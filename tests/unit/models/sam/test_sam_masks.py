"""SAM masks: the level-aware filters on hand-built masks, the generator against segment-anything's
own (tiny random SAM, and a SAM whose decoder draws discs around the clicks so that crops, NMS and
the small-region clean-up all have work), the mask store and the model (tools/sam_masks.py:
tests/tools/test_sam_masks_tool.py)."""
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from conftest import ROOT, closed_port_url
from mmengine.config import Config
from mmseg.structures import SegDataSample
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import batched_mask_to_box
from torch import nn
from torchvision.ops import batched_nms

from wsss.datasets.synthetic import make_sample
from wsss.io.sam_masks import (
    SAMMaskError,
    decode_masks,
    load_mask_array,
    load_masks,
    mask_path,
    save_masks,
)
from wsss.models.sam import (
    LevelAwareMaskGenerator,
    build_sam,
    finish_masks,
    level_scores,
    rock_sand_water_keep,
    unpack_dense,
)
from wsss.models.sam.build import SAM_URLS
from wsss.registry import MODELS

TINY_CFG = 'configs/sam/sam_tiny_minivoc.py'
TINY = dict(img_size=64, encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2,
            encoder_global_attn_indexes=(1,), window_size=2, prompt_embed_dim=32,
            decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32)
FMA = dict(pred_iou_thresh=0.86, stability_score_thresh=0.92, crop_n_layers=1,
           crop_n_points_downscale_factor=2)
NO_LEVELS = dict(score_thresh_offset=(0, 0, 0), score_nms_offset=(0, 0, 0),
                 rock_sand_water_thresh=None)


def row_masks(spans, width=12):
    """(N, 1, width) bool masks, mask i covering columns spans[i] = (first, last)."""
    masks = torch.zeros(len(spans), 1, width, dtype=torch.bool)
    for m, (a, b) in zip(masks, spans):
        m[0, a:b + 1] = True
    return masks


def test_rock_sand_water_keeps_masks_not_recalled_by_kept_higher_levels():
    # S1 lies in P1 only, which W0 drops (recall 2/4): S1 stays, a dropped mask does not count.
    # P2 is apart from W0: stays; S2 lies in P2: recall 1, goes. S3 overlaps W0 by 1/4 < 0.3
    # and S1 by 2/4, but masks of one level are not judged against each other: stays.
    masks = row_masks([(4, 5), (0, 3), (2, 5), (9, 10), (8, 11), (3, 6)])
    levels = torch.tensor([0, 2, 1, 0, 1, 0])  # S1, W0, P1, S2, P2, S3
    keep = rock_sand_water_keep(masks, levels, 0.3)
    assert keep.tolist() == [True, True, False, False, True, True]


def test_rock_sand_water_without_whole_masks_starts_from_the_parts():
    # no level-2 mask: every part is kept; recall exactly 0.3 (3 of 10 pixels) is not below 0.3
    masks = row_masks([(0, 4), (0, 9), (7, 9), (2, 4)], width=20)
    levels = torch.tensor([1, 0, 0, 0])
    keep = rock_sand_water_keep(masks, levels, 0.3)
    assert keep.tolist() == [True, False, True, False]
    assert rock_sand_water_keep(masks[:0], levels[:0], 0.3).tolist() == []


def test_threshold_offset_lets_whole_masks_pass_at_a_lower_iou():
    iou = torch.tensor([0.80, 0.80, 0.80, 0.75, 0.90])
    levels = torch.tensor([0, 1, 2, 2, 0])
    passed = level_scores(iou, levels, (0.0, 0.0, 0.1)) > 0.86  # whole: 0.9 and 0.85
    assert passed.tolist() == [False, False, True, False, True]
    assert torch.equal(level_scores(iou, levels, (0, 0, 0)), iou)


def test_nms_offset_makes_the_whole_mask_win():
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[0, :6, :6] = True   # whole, IoU 0.80
    masks[1, :6, :5] = True   # part, IoU 0.95; box IoU with the whole 30/36 > 0.7
    masks[2, 6:, 6:] = True   # sub-part elsewhere
    iou, levels = torch.tensor([0.80, 0.95, 0.90]), torch.tensor([2, 1, 0])
    boxes = batched_mask_to_box(masks).float()
    for offsets, winner in (((0, 0, 0), 1), ((0, 0, 1.0), 0)):
        keep = batched_nms(boxes, level_scores(iou, levels, offsets), torch.zeros(3), 0.7)
        assert sorted(keep.tolist()) == sorted([winner, 2])


class ClickPrompts(nn.Module):
    """Stands in for SAM's prompt encoder: hands the clicks (input frame) to the decoder."""

    def forward(self, points, boxes, masks):
        return points[0].float(), torch.zeros(len(points[0]), 1)

    def get_dense_pe(self):
        return torch.zeros(1)


class DiscDecoder(nn.Module):
    """Stands in for SAM's mask decoder: three discs around each click (radii 1, 2, 3.5 low-res
    pixels for levels 0, 1, 2; the whole one with a small island beside it), sharp enough to be
    stable, and a predicted IoU in [0.78, 0.98) that varies with the click and the level."""

    def forward(self, image_embeddings, image_pe, sparse_prompt_embeddings,
                dense_prompt_embeddings, multimask_output):
        size = image_embeddings.shape[-1] * 4
        xy = sparse_prompt_embeddings[:, 0] * size / TINY['img_size']
        grid = torch.arange(size) + 0.5
        dx = grid[None, None, :] - xy[:, 0, None, None]
        dy = grid[None, :, None] - xy[:, 1, None, None]
        logits = (torch.tensor([1.0, 2.0, 3.5])[None, :, None, None]
                  - (dx ** 2 + dy ** 2).sqrt()[:, None]) * 40
        logits[:, 2][((dx - 5) ** 2 + dy ** 2).sqrt() < 0.6] = 40.0
        iou = 0.78 + 0.2 * torch.frac(xy[:, :1] * 0.37 + xy[:, 1:] * 0.61
                                      + torch.tensor([0.0, 0.3, 0.6]))
        return logits, iou


def tiny_sam(discs: bool = False) -> nn.Module:
    torch.manual_seed(0)
    sam = build_sam(model_cfg=TINY)
    if discs:
        sam.prompt_encoder, sam.mask_decoder = ClickPrompts(), DiscDecoder()
    return sam


@pytest.fixture(scope='module')
def image() -> np.ndarray:
    bgr, _ = make_sample(np.random.default_rng(0), (96, 128))
    return np.ascontiguousarray(bgr[..., ::-1])


# Random tiny SAM: IoUs and logits near 0, so thresholds near 0 let masks through; with box
# NMS at 1.0 nothing is suppressed and ~100 masks reach the clean-up and the encoding.
RANDOM = dict(points_per_side=8, pred_iou_thresh=0.02, stability_score_thresh=0.5,
              stability_score_offset=0.005, crop_n_layers=1, crop_n_points_downscale_factor=2,
              min_mask_region_area=20)
CASES = {'random': (False, RANDOM),
         'random-no-nms': (False, dict(RANDOM, box_nms_thresh=1.0, crop_nms_thresh=1.0)),
         'discs-fma': (True, dict(points_per_side=8, min_mask_region_area=100))}


@pytest.mark.parametrize('case', sorted(CASES))
def test_generator_returns_the_stock_generators_masks(case, image):
    discs, settings = CASES[case]
    sam = tiny_sam(discs)
    settings = {**FMA, **settings}
    expected = SamAutomaticMaskGenerator(sam, output_mode='coco_rle', **settings).generate(image)
    ours = LevelAwareMaskGenerator(sam, points_per_batch=50, crop_batch=1, **settings,
                                   **NO_LEVELS).generate(image)
    for mask in ours:
        assert mask.pop('level') in (0, 1, 2)
    assert expected and ours == expected
    if discs:  # crops, NMS and both kinds of clean-up had work
        assert len({tuple(m['crop_box']) for m in ours}) == 5


def test_level_aware_generator_on_discs(image):
    sam = tiny_sam(discs=True)
    unfiltered = LevelAwareMaskGenerator(sam, points_per_side=8,
                                         rock_sand_water_thresh=None).generate(image)
    # the threshold offset: whole masks pass from IoU 0.76 on; the others need 0.86
    assert any(m['predicted_iou'] <= 0.86 for m in unfiltered if m['level'] == 2)
    assert all(m['predicted_iou'] > 0.86 for m in unfiltered if m['level'] < 2)
    assert all(m['predicted_iou'] > 0.76 and m['stability_score'] >= 0.92 for m in unfiltered)
    # the filter comes last: it removes the lower-level discs that lie inside kept wholes
    masks = LevelAwareMaskGenerator(sam, points_per_side=8).generate(image)
    keep = rock_sand_water_keep(torch.from_numpy(decode_masks(unfiltered, image.shape[:2])),
                                torch.tensor([m['level'] for m in unfiltered]), 0.3)
    assert masks == [m for m, k in zip(unfiltered, keep.tolist()) if k]
    assert {m['level'] for m in unfiltered} == {0, 1, 2} and 0 < len(masks) < len(unfiltered)


def test_masks_round_trip_through_the_store(image, tmp_path):
    masks = LevelAwareMaskGenerator(tiny_sam(), **RANDOM).generate(image)
    assert masks
    path = mask_path(str(tmp_path / 'masks'), 'img')
    save_masks(path, masks, image.shape[:2])
    assert os.listdir(tmp_path / 'masks') == ['img.json']  # no temp file left
    loaded = load_masks(path)
    assert [(m['level'], m['predicted_iou'], m['stability_score'], m['area'], m['bbox'])
            for m in loaded] == [(m['level'], m['predicted_iou'], m['stability_score'],
                                  m['area'], m['bbox']) for m in masks]
    arrays = load_mask_array(path)
    assert arrays.dtype == bool and arrays.shape == (len(masks), *image.shape[:2])
    np.testing.assert_array_equal(arrays, decode_masks(masks, image.shape[:2]))
    assert [int(a.sum()) for a in arrays] == [m['area'] for m in masks]
    save_masks(path, [], (3, 4))
    assert load_mask_array(path).shape == (0, 3, 4)


def test_store_names_the_file_it_cannot_read(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"size": [2, 2], "masks": [')
    with pytest.raises(SAMMaskError, match=re.escape(str(bad))):
        load_masks(str(bad))
    bad.write_text(json.dumps(dict(size=[2, 2], masks=[dict(
        segmentation=dict(size=[3, 3], counts='9'), level=0)])))
    with pytest.raises(SAMMaskError, match='bad.json: a mask of size'):
        load_mask_array(str(bad))
    with pytest.raises(SAMMaskError, match='missing.json'):
        load_masks(str(tmp_path / 'missing.json'))


def test_build_sam_loads_a_checkpoint_and_names_a_missing_one(tmp_path):
    sam = tiny_sam()
    path = str(tmp_path / 'tiny.pth')
    torch.save(sam.state_dict(), path)
    loaded = build_sam(model_cfg=TINY, checkpoint=path)
    assert all(torch.equal(a, b) for a, b in zip(sam.state_dict().values(),
                                                 loaded.state_dict().values()))
    assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(FileNotFoundError, match=r'nowhere/sam_vit_b\.pth.*model\.sam\.checkpoint'):
        build_sam('vit_b', checkpoint='nowhere/sam_vit_b.pth')
    with pytest.raises(RuntimeError, match='tiny.pth does not fit'):
        build_sam(model_cfg=dict(TINY, prompt_embed_dim=16), checkpoint=path)
    with pytest.raises(ValueError, match='vit_x'):
        build_sam('vit_x')


def test_model_runs_the_generator_on_rgb(image):
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TINY_CFG)).model)
    bgr = torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).permute(2, 0, 1)
    out, = model.predict([bgr], [SegDataSample()])
    expected = model.generator.generate(image)
    assert finish_masks(unpack_dense(out.sam_dense), **out.sam_finish) == expected and expected
    model.defer_finish = False
    out, = model.predict([bgr], [SegDataSample()])
    assert out.sam_masks == expected


def test_build_sam_finds_the_released_file_in_the_weights_dir_or_tries_its_url(
        weights_dir, monkeypatch):
    sam = tiny_sam()
    torch.save(sam.state_dict(), osp.join(weights_dir, 'sam_vit_b_01ec64.pth'))
    loaded = build_sam(model_cfg=TINY, checkpoint='checkpoints/sam_vit_b_01ec64.pth')
    assert all(torch.equal(a, b) for a, b in zip(sam.state_dict().values(),
                                                 loaded.state_dict().values()))
    url = closed_port_url('sam_vit_l_0b3195.pth')
    monkeypatch.setitem(SAM_URLS, 'vit_l', url)
    with pytest.raises(FileNotFoundError) as err:
        build_sam('vit_l', checkpoint='checkpoints/sam_vit_l_0b3195.pth')
    for part in ('sam_vit_l_0b3195.pth', url, 'WSSS_WEIGHTS_DIR', 'model.sam.checkpoint'):
        assert part in str(err.value)
    # another file name is not downloaded, but the error names the released weights
    with pytest.raises(FileNotFoundError, match=r'my_sam\.pth.*model\.sam\.checkpoint.*'
                                                r'released vit_l weights are http'):
        build_sam('vit_l', checkpoint='my_sam.pth')
