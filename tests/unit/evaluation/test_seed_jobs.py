"""Long seed and SAM-mask jobs: the pool of CPU workers and its defaults, bad files that do not
end a job (the same files in any worker count: tests/e2e/test_pooled_writes.py; the whole jobs
and a user's mistakes through tools/generate_seeds.py: tests/tools/test_seed_jobs_tools.py)."""
import argparse
import io
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT, write_image
from mmengine.config import Config
from PIL import Image
from pycocotools import mask as mask_utils

from wsss.datasets import ImageFolderDataset, ImageLoadError, VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.datasets.transforms import LoadImage, jpeg_truncated
from wsss.evaluation import SAMMaskWriter
from wsss.io.sam_masks import mask_path, save_masks
from wsss.registry import MODELS
from wsss.utils.workers import BoundedPool

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'
PIPELINE = [dict(type='LoadImage', record_errors=True), dict(type='ResizeToMultiple'),
            dict(type='PackWSSSInputs')]


@pytest.fixture(scope='module')
def small_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'voc'), (('train', 4),))


# ---------------------------------------------------------------- files that used to be refused
def jpeg_bytes(progressive: bool = False) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(
        buf, format='JPEG', quality=90, progressive=progressive)
    return buf.getvalue()


@pytest.mark.parametrize('progressive', [False, True])
def test_every_cut_of_a_jpeg_is_truncated_and_a_trailer_is_not(progressive):
    data = jpeg_bytes(progressive)
    assert not jpeg_truncated(data)
    assert all(jpeg_truncated(data[:n]) for n in range(2, len(data)))
    # a motion photo: an MP4 after the end marker, with JPEG-like bytes of its own
    assert not jpeg_truncated(data + b'\x00\x00\x00\x18ftypmp42\xff\xd8\xff\xda' + bytes(500))


def test_motion_photo_jpeg_loads_as_the_jpeg_alone(tmp_path):
    plain, motion = str(tmp_path / 'plain.jpg'), str(tmp_path / 'motion.jpg')
    open(plain, 'wb').write(jpeg_bytes())
    open(motion, 'wb').write(jpeg_bytes() + b'\x00\x00\x00\x18ftypmp42' + os.urandom(3000))
    a, b = (LoadImage()(dict(img_path=p))['img'] for p in (plain, motion))
    np.testing.assert_array_equal(a, b)
    open(motion, 'wb').write(jpeg_bytes()[:-40])
    with pytest.raises(ImageLoadError, match='motion.jpg is truncated'):
        LoadImage()(dict(img_path=motion))


def test_labels_csv_and_split_list_with_a_byte_order_mark(tmp_path, voc_root):
    write_image(str(tmp_path / 'images' / 'a.jpg'), 5, 7)
    labels = tmp_path / 'labels.csv'
    labels.write_text('a.jpg, dog\n', encoding='utf-8-sig')
    dataset = ImageFolderDataset(img_dir=str(tmp_path / 'images'), labels_file=str(labels),
                                 classes=['cat', 'dog'])
    assert dataset.get_data_info(0)['img_name'] == 'a'
    assert list(dataset.get_data_info(0)['img_labels']) == [0, 1]
    split = osp.join(voc_root, 'ImageSets', 'Segmentation', 'train.txt')
    names = open(split).read()
    open(split, 'w', encoding='utf-8-sig').write(names)
    assert VOC12Dataset(data_root=voc_root, split='train').get_data_info(0)['img_name'] == 'img_a'


def test_an_undecodable_image_is_marked_and_skipped(small_voc, tmp_path):
    bad = str(tmp_path / 'bad.jpg')
    open(bad, 'wb').write(b'not an image at all')
    dataset = VOC12Dataset(data_root=small_voc, split='train', pipeline=PIPELINE)
    good = dataset[0]
    info = dataset.get_data_info(1)
    out = dataset.pipeline(dict(info, img_path=bad))
    assert 'cannot decode image' in out['data_samples'].metainfo['load_error']
    assert out['inputs'].shape == (3, 0, 0)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TINY)).model)
    with torch.no_grad():
        done, skipped = model.predict([good['inputs'], out['inputs']],
                                      [good['data_samples'], out['data_samples']])
    assert 'pred_sem_seg' in done and 'pred_sem_seg' not in skipped


# ---------------------------------------------------------------- the pool
def test_bounded_pool_keeps_order_and_bounds_the_queue():
    pool = BoundedPool(workers=2, max_pending=3)
    for i in range(7):
        pool.submit(pow, i, 2)
        assert len(pool._pending) <= 3
    assert pool.close() == [i * i for i in range(7)]
    pool = BoundedPool(workers=2)
    pool.submit(int, 'x')
    with pytest.raises(ValueError, match='invalid literal'):
        pool.close()
    inline = BoundedPool(workers=0)
    inline.submit(pow, 3, 2)
    assert inline.finished() == [9] and inline._executor is None


def test_default_workers_are_the_cores_the_model_leaves_free(monkeypatch):
    from wsss.utils import workers
    monkeypatch.setattr(workers, 'cores_per_rank', lambda: 16)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert BoundedPool().workers == 14
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 16)
    assert BoundedPool().workers == 0  # a CPU model on every core: the tasks run inline
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert BoundedPool().workers == 16 - 1 - 4  # the model's process and 4 loaders aside
    monkeypatch.setattr(workers, 'cores_per_rank', lambda: 2)  # 8 GPUs on 16 cores
    assert (BoundedPool().workers, workers.loader_workers()) == (1, 1)
    monkeypatch.setattr(workers, 'cores_per_rank', lambda: 8)
    assert (BoundedPool().workers, workers.loader_workers()) == (5, 2)
    monkeypatch.undo()
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(16)), raising=False)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '4')
    assert workers.cores_per_rank() == 4


def test_seed_loader_workers_default_to_none_beside_a_cpu_model(monkeypatch):
    from wsss.apis import load_config
    from wsss.utils import workers
    config = osp.join(ROOT, 'configs/clip_es/clip-es_vit-b16_voc12-train.py')
    monkeypatch.setattr(workers, 'cores_per_rank', lambda: 2)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert load_config(config).test_dataloader.num_workers == 0  # decoded in the model's process
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 1)
    assert load_config(config).test_dataloader.num_workers == 1  # the one core it leaves free
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert load_config(config).test_dataloader.num_workers == 1  # a third of 2 cores, >= 1
    args = argparse.Namespace(work_dir=None, launcher='none', local_rank=0,
                              cfg_options={'test_dataloader.num_workers': 5})
    assert load_config(config, args).test_dataloader.num_workers == 5  # a number is kept


def write_sam_masks(dataset, mask_dir: str) -> None:
    """Two boxes per image (a whole and a part), and the image itself as sub-part."""
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        h, w = np.array(Image.open(info['img_path'])).shape[:2]
        masks = [np.zeros((h, w), bool) for _ in range(3)]
        masks[0][h // 4:3 * h // 4, w // 4:3 * w // 4] = True
        masks[1][:h // 2, :w // 2] = True
        masks[2][:] = True
        records = [dict(segmentation=mask_utils.encode(np.asfortranarray(m.astype(np.uint8))),
                        level=level, predicted_iou=0.9, stability_score=0.9,
                        area=int(m.sum()), bbox=[0.0, 0.0, 1.0, 1.0])
                   for m, level in zip(masks, (2, 1, 0))]
        save_masks(mask_path(mask_dir, info['img_name']), records, (h, w))


def folder_bytes(folder: str) -> dict:
    return {f: open(osp.join(folder, f), 'rb').read() for f in sorted(os.listdir(folder))}


def test_sam_mask_writer_lists_undecodable_images_and_writes_the_others(tmp_path):
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 2:5] = 1
    record = dict(segmentation=mask_utils.encode(np.asfortranarray(mask)), level=2,
                  predicted_iou=0.9, stability_score=0.95, area=6, bbox=[2.0, 1.0, 3.0, 2.0])
    failed_file = str(tmp_path / 'failed.json')
    writer = SAMMaskWriter(mask_dir=str(tmp_path / 'masks'), failed_file=failed_file)
    writer.process(None, [dict(img_name='good', img_path='good.jpg', ori_shape=(4, 6),
                               sam_masks=[record]),
                          dict(img_name='bad', img_path='bad.jpg', load_error='cannot decode')])
    assert writer.evaluate(2) == {'sam_masks/written': 1, 'sam_masks/failed': 1}
    assert os.listdir(tmp_path / 'masks') == ['good.json']
    assert json.load(open(failed_file)) == [dict(file='bad.jpg', reason='cannot decode')]
    writer.process(None, [dict(img_name='bad', img_path='bad.jpg', ori_shape=(4, 6),
                               sam_masks=[record])])  # a rerun after the image was fixed
    assert writer.evaluate(1) == {'sam_masks/written': 1, 'sam_masks/failed': 0}
    assert not osp.exists(failed_file)
    strict = SAMMaskWriter(mask_dir=str(tmp_path / 'masks'), strict=True)
    with pytest.raises(ImageLoadError, match='cannot decode .--strict stops at the first'):
        strict.process(None, [dict(img_name='bad', img_path='bad.jpg', load_error='cannot decode')])


def test_prediction_text_features_are_reused_until_the_prompts_change():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/fma_wsss/fma-fine-seeds_vit-tiny_minivoc.py'))
    model = MODELS.build(cfg.model)
    first = model.predict_text_features()
    assert model.predict_text_features() is first
    torch.testing.assert_close(first, model.text_features().detach())
    state = {k: v + 1 for k, v in model.state_dict().items()
             if 'ctx' in k and v.is_floating_point()}
    assert state, 'no prompt contexts in the checkpoint state'
    model.load_state_dict(state, strict=False)  # as load_from does
    changed = model.predict_text_features()
    assert not torch.allclose(changed, first)
    torch.testing.assert_close(changed, model.text_features().detach())
