"""Rules of the relevancy seeder that change seeds (docs/relevancy.md §4-5, §8), against an
independent NumPy computation (tests/reference_math.py) on a colour, odd-sized image, and the
published defaults (O-R1, O-R2)."""
import inspect
import os.path as osp
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from conftest import ROOT
from mmengine.config import Config
from PIL import Image
from reference_math import resize

from wsss.models.clip.text import VILD_TEMPLATES
from wsss.models.relevancy import CLIPRelevancyModel, tta_relevancy
from wsss.models.relevancy.seeding import RelevancySeeder


def content_maps(views: torch.Tensor) -> torch.Tensor:
    """A stand-in relevancy that depends on the view's pixels: (B, 2, s/16, s/16), the 16x16
    means of the first channel and of the channel mean."""
    views = views.double()
    return torch.cat([F.avg_pool2d(views[:, :1], 16), F.avg_pool2d(views.mean(1, True), 16)], 1)


def reference_tta(hwc: np.ndarray, scales, flips) -> np.ndarray:
    """Each pass: Pillow bicubic to s x s, flipped or not, the map bilinearly to s x s, the flip
    undone, bilinearly to the image; the mean over the passes."""
    H, W = hwc.shape[:2]
    total = 0
    for s in scales:
        view = np.asarray(Image.fromarray(hwc).resize((s, s), Image.BICUBIC)).astype(np.float64)
        for flip in flips:
            v = view[:, ::-1] if flip else view
            grid = v.reshape(s // 16, 16, s // 16, 16, 3).mean(axis=(1, 3))  # (h, w, 3)
            maps = np.stack([grid[..., 0], grid.mean(-1)])
            maps = resize(maps, (s, s))
            maps = maps[..., ::-1] if flip else maps
            total = total + resize(maps, (H, W))
    return total / (len(scales) * len(flips))


def test_tta_matches_the_reference_on_a_colour_odd_sized_image():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (13, 19, 3), dtype=np.uint8)
    hwc[:, :9, 0] //= 4  # asymmetric content, so the flips matter
    got = tta_relevancy(torch.from_numpy(hwc).permute(2, 0, 1), content_maps, scales=(32, 48))
    expected = reference_tta(hwc, (32, 48), (False, True))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-3)
    # the fixture tells a bilinear view from a bicubic one
    bilinear = np.asarray(Image.fromarray(hwc).resize((32, 32), Image.BILINEAR))
    bicubic = np.asarray(Image.fromarray(hwc).resize((32, 32), Image.BICUBIC))
    assert np.abs(bilinear.astype(int) - bicubic).max() > 10


def test_published_tta_click_and_rollout_defaults():
    tta = inspect.signature(tta_relevancy).parameters
    assert tta['scales'].default == (224, 336) and tta['flips'].default == (False, True)
    model = inspect.signature(CLIPRelevancyModel).parameters
    assert model['scales'].default == (224, 336) and model['flips'].default == (False, True)
    assert model['start_block'].default == -1 and model['templates'].default == VILD_TEMPLATES
    seeder = inspect.signature(RelevancySeeder).parameters
    assert seeder['num_clicks'].default == 3 and seeder['click_factor'].default == 0.5
    for path in ('configs/relevancy/relevancy_vit-b16_sam-vit-h_voc12-train-aug.py',
                 'configs/relevancy/relevancy_vit-b16_sam-vit-h_coco14-train.py'):
        cfg = Config.fromfile(osp.join(ROOT, path)).model
        assert tuple(cfg.scales) == (224, 336) and tuple(cfg.flips) == (False, True)
        assert cfg.start_block == -1 and 'templates' not in cfg
        assert cfg.seeder.num_clicks == 3 and cfg.seeder.click_factor == 0.5
        assert cfg.clip == dict(name='ViT-B-16', pretrained='openai')


def test_each_class_map_is_min_max_normalised_after_the_tta():
    rng = np.random.default_rng(1)
    hwc = rng.integers(0, 256, (13, 19, 3), dtype=np.uint8)
    owner = SimpleNamespace(scales=(32,), flips=(False, True),
                            view_relevancy=lambda views, text: content_maps(views))
    labels, text = torch.tensor([1, 0, 1]), torch.zeros(3, 4)
    got = CLIPRelevancyModel.image_cams(owner, torch.from_numpy(hwc).permute(2, 0, 1), labels,
                                        text)
    maps = reference_tta(hwc, (32,), (False, True))
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got.numpy(), (maps - low) / (high - low + 1e-7), atol=1e-5)
