"""Same-size images through one forward (``images_per_forward``, the size-ordered sampler; for
``generate_seeds.py --batch`` see tests/tools) and the autocast option: the CAMs of the one-by-one
fp32 path."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT, write_image
from mmengine.config import Config
from mmseg.structures import SegDataSample

from wsss.datasets import ImageFolderDataset, PendingSeedSampler
from wsss.models.clip import CLIPDenseEncoder
from wsss.models.clip_es.model import host_copy, same_size_groups
from wsss.registry import MODELS

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'


def test_same_size_groups_keep_first_appearance_order_and_chunk():
    shapes = [(3, 2, 2), (3, 4, 2), (3, 2, 2), (3, 2, 2), (3, 4, 2)]
    images = [torch.zeros(s) for s in shapes]
    assert same_size_groups(images, 2) == [[0, 2], [3], [1, 4]]
    assert same_size_groups(images, 1) == [[0], [2], [3], [1], [4]]
    assert same_size_groups([], 4) == []


def batch_inputs():
    """Four images of two sizes with 0-3 labels: the batched path's slots and masks all differ."""
    gen = torch.Generator().manual_seed(1)
    sizes = [(48, 64), (64, 48), (48, 64), (48, 64)]
    label_sets = [[7, 14], [2], [0, 4, 11], []]
    inputs, samples = [], []
    for (h, w), classes in zip(sizes, label_sets):
        inputs.append(torch.randint(0, 255, (3, h, w), dtype=torch.uint8, generator=gen))
        labels = np.zeros(20, np.uint8)
        labels[classes] = 1
        samples.append(SegDataSample(metainfo=dict(img_labels=labels, ori_shape=(h - 5, w - 3))))
    return inputs, samples


def predicted_cams(monkeypatch, **model_options):
    """(each image's float32 CAMs at its original size, number of ViT forwards)."""
    cfg = Config.fromfile(osp.join(ROOT, TINY)).model
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, defer_seeding=True, **model_options))
    calls = []
    forward = CLIPDenseEncoder.forward
    monkeypatch.setattr(CLIPDenseEncoder, 'forward',
                        lambda self, images: calls.append(len(images)) or forward(self, images))
    inputs, samples = batch_inputs()
    with torch.no_grad():  # as in mmengine's test loop
        out = model.predict(inputs, samples)
    return [s.cams.data for s in out], calls


def test_host_copy_gives_each_tensor_back_whole_from_one_buffer():
    cams = [torch.arange(24.).view(2, 3, 4), torch.zeros(0, 5, 7), -torch.rand(1, 2, 9)]
    out = host_copy(cams)
    assert [t.shape for t in out] == [t.shape for t in cams]
    for copied, original in zip(out, cams):
        assert torch.equal(copied, original) and copied.dtype == torch.float32
    assert out[0].untyped_storage().data_ptr() == out[2].untyped_storage().data_ptr()
    assert host_copy([]) == []


@pytest.mark.parametrize('caa', [True, False])
def test_same_size_images_in_one_forward_give_the_one_by_one_cams(monkeypatch, caa):
    single, calls = predicted_cams(monkeypatch, caa=caa)
    assert calls == [1, 1, 1, 1]
    batched, calls = predicted_cams(monkeypatch, caa=caa, images_per_forward=4)
    assert calls == [3, 1]  # the three 48x64 images together, then the 64x48 one
    assert [c.shape for c in batched] == [(2, 43, 61), (1, 59, 45), (3, 43, 61), (0, 43, 61)]
    for a, b in zip(single, batched):
        assert a.dtype == b.dtype == torch.float32
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    _, calls = predicted_cams(monkeypatch, caa=caa, images_per_forward=2)
    assert calls == [2, 1, 1]


def test_autocast_runs_the_vit_in_bf16_close_to_fp32(monkeypatch):
    fp32, _ = predicted_cams(monkeypatch, caa=False)
    bf16, _ = predicted_cams(monkeypatch, caa=False, autocast='bf16')
    diff = max(float((a - b).abs().max()) for a, b in zip(fp32, bf16) if a.numel())
    assert 0 < diff < 0.1  # bf16 keeps 8 mantissa bits: a different, close map
    assert all(c.dtype == torch.float32 for c in bf16)


def test_bad_batching_settings_are_refused():
    cfg = Config.fromfile(osp.join(ROOT, TINY)).model
    with pytest.raises(ValueError, match='model.autocast'):
        MODELS.build(dict(cfg, autocast='fp8'))
    with pytest.raises(ValueError, match='model.images_per_forward'):
        MODELS.build(dict(cfg, images_per_forward=0))


def test_sampler_orders_pending_images_by_size_and_still_shards_each_once(tmp_path, monkeypatch):
    sizes = {'a.jpg': (40, 60), 'b.jpg': (60, 40), 'c.jpg': (40, 60), 'd.jpg': (30, 30),
             'e.jpg': (60, 40)}
    for name, (h, w) in sizes.items():
        write_image(str(tmp_path / 'img' / name), h, w)
    (tmp_path / 'img' / 'f.jpg').write_bytes(b'not an image')  # unreadable: first, (0, 0)
    (tmp_path / 'labels.csv').write_text(
        ''.join(f'{n}, cat\n' for n in [*sizes, 'f.jpg']))
    dataset = ImageFolderDataset(img_dir=str(tmp_path / 'img'),
                                 labels_file=str(tmp_path / 'labels.csv'), classes=['cat'])
    seed_dir = str(tmp_path / 'seeds')
    assert list(PendingSeedSampler(dataset, seed_dir)) == [0, 1, 2, 3, 4, 5]
    # f (0, 0), d (30, 30), a c (40, 60), b e (60, 40)
    assert list(PendingSeedSampler(dataset, seed_dir, group_by_size=True)) == [5, 3, 0, 2, 1, 4]
    shards = []
    for rank in (0, 1):
        monkeypatch.setattr('wsss.datasets.samplers.get_dist_info', lambda: (rank, 2))
        shards.append(list(PendingSeedSampler(dataset, seed_dir, group_by_size=True)))
    assert shards == [[5, 0, 1], [3, 2, 4]]
