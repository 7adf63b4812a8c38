"""Users' own photos: images of any size and EXIF orientation, one id per image, class names
only, the example folder configs through eval/check/demo, CSV labels files, --data-root and the
weights tool. Tiny random CLIP and SAM through the real code paths."""
import argparse
import glob
import hashlib
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, closed_port_url, write_image
from PIL import Image

from wsss.apis import init_stage_one, load_config, seed_image, set_data_root
from wsss.datasets import LoadImage, ResizeToMultiple
from wsss.datasets.class_names import DEFAULT_BACKGROUND_WORDS
from wsss.datasets.samplers import PendingSeedSampler
from wsss.io.images import image_size
from wsss.io.seeds import read_label_map, write_label_map
from wsss.registry import DATASETS, MODELS

CUSTOM = osp.join(ROOT, 'configs/custom/clip-es_vit-b16_custom.py')
TINY_CLIP = osp.join(ROOT, 'configs/_base_/models/clip_tiny.py')
CLASSES = ('cat', 'dog', 'person')  # configs/_base_/datasets/custom_folder.py


def run_script(monkeypatch, script: str, *args: str) -> int:
    """A tool in this process (its imports are done: seconds, not a minute); its exit code."""
    monkeypatch.setattr(sys, 'argv', [script, *args])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(osp.join(ROOT, script), run_name='__main__')
    return exit_info.value.code


def tiny_config(tmp_path, data_root: str) -> str:
    """A user's own config on the example folder config, as the README shows, with the tiny
    random CLIP in place of ViT-B/16."""
    path = str(tmp_path / 'my_config.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = [{CUSTOM!r}, {TINY_CLIP!r}]\n"
                "randomness = dict(seed=0)\n"
                f"classes = {CLASSES!r}\n"
                "model = dict(class_names=classes, num_attn_layers=2, "
                "clip={{_base_.tiny_clip}})\n"
                f"test_dataloader = dict(batch_size=1, num_workers=0, dataset=dict("
                f"data_root={data_root!r}, classes=classes))\n")
    return path


def folder(root: str, images: dict, labels: str) -> str:
    """An image folder: ``images`` name -> (h, w), a labels.csv with ``labels``."""
    for i, (name, (h, w)) in enumerate(images.items()):
        write_image(osp.join(root, 'images', name), h, w, seed=i)
    with open(osp.join(root, 'labels.csv'), 'w', encoding='utf-8') as f:
        f.write(labels)
    return root


def folder_dataset(root: str, **kwargs):
    return DATASETS.build(dict(type='ImageFolderDataset', data_root=root, img_dir='images',
                               labels_file='labels.csv', classes=CLASSES, **kwargs))


# -- 1. images of any size -------------------------------------------------------------------

def test_resize_bounds_the_long_side_and_leaves_voc_and_coco_sizes_alone():
    bound = ResizeToMultiple(16, max_long_side=640)
    out = bound(dict(img=np.zeros((4000, 6000, 3), np.uint8)))
    assert out['img_shape'] == (432, 640)  # 4000 * 640 / 6000 = 426.7, up to a multiple of 16
    portrait = bound(dict(img=np.zeros((3000, 1000, 3), np.uint8)))
    assert portrait['img_shape'] == (640, 224)  # 1000 * 640 / 3000 = 213.3 -> 224
    for h, w in ((375, 500), (480, 640), (640, 427)):  # VOC's and COCO's largest sides
        same = ResizeToMultiple(16)(dict(img=np.zeros((h, w, 3), np.uint8)))
        assert bound(dict(img=np.zeros((h, w, 3), np.uint8)))['img_shape'] == same['img_shape']


def test_a_large_photo_is_seeded_at_its_own_size_with_a_bounded_token_count(tmp_path):
    root = folder(str(tmp_path / 'photos'), {'big.jpg': (1400, 2000)}, 'big.jpg, cat\n')
    model = init_stage_one(tiny_config(tmp_path, root))
    seen = []
    model.encoder.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[-2:]))
    result = seed_image(model, osp.join(root, 'images', 'big.jpg'), ['cat'])
    assert [tuple(s) for s in seen] == [(448, 640)]  # 40 x 28 patches, not 125 x 88
    assert result.seed.shape == (1400, 2000) and result.cams.shape == (1, 1400, 2000)


def test_an_image_out_of_memory_is_one_failed_entry(tmp_path, monkeypatch):
    from mmseg.structures import SegDataSample
    model = init_stage_one(tiny_config(tmp_path, str(tmp_path)))

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 70 GB")

    monkeypatch.setattr(model, 'batch_cams', out_of_memory)
    samples = []
    for name in ('a', 'b'):
        s = SegDataSample()
        s.set_metainfo(dict(img_path=f'{name}.jpg', img_labels=np.array([1, 0, 0], np.uint8),
                            ori_shape=(32, 48)))
        samples.append(s)
    out = model.predict([torch.zeros(3, 32, 48, dtype=torch.uint8)] * 2, samples)
    assert [s.metainfo['load_error'] for s in out] == [
        f'{n}.jpg: out of memory at 48x32 (WxH); lower max_long_side of the pipeline\'s '
        'ResizeToMultiple to seed it on this machine' for n in 'ab']
    monkeypatch.setattr(model, 'batch_cams', lambda *a: 1 / 0)  # a bug still stops the job
    with pytest.raises(ZeroDivisionError):
        model.predict([torch.zeros(3, 32, 48, dtype=torch.uint8)], [SegDataSample(
            metainfo=dict(img_labels=np.array([1, 0, 0], np.uint8)))])


def test_sam_masks_of_a_large_image_are_made_at_the_bound_and_stored_at_its_size():
    from mmengine.config import Config
    from mmseg.structures import SegDataSample
    from pycocotools import mask as mask_utils
    tiny = Config.fromfile(osp.join(ROOT, 'configs/sam/sam_tiny_minivoc.py')).model
    torch.manual_seed(0)
    model = MODELS.build(dict(tiny.to_dict(), max_long_side=64))
    sizes = []
    generate = model.generator.generate
    model.generator.generate = lambda rgb: sizes.append(rgb.shape[:2]) or generate(rgb)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 255, (3, 120, 200), dtype=np.uint8))
    sample, = model.predict([image], [SegDataSample(metainfo=dict(img_path='x.jpg'))])
    assert sizes == [(38, 64)]  # 120 * 64 / 200 = 38.4
    assert sample.sam_masks, 'the tiny SAM finds masks at these thresholds'
    for record in sample.sam_masks:
        mask = mask_utils.decode(record['segmentation'])
        assert mask.shape == (120, 200) and record['area'] == int(mask.sum())
        ys, xs = np.nonzero(mask)
        assert record['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                  ys.max() - ys.min() + 1]


def test_rescaled_sam_record_by_hand():
    from pycocotools import mask as mask_utils

    from wsss.models.sam.model import rescale_record
    small = np.zeros((4, 5), np.uint8)
    small[1:3, 2:4] = 1
    rle = mask_utils.encode(np.asfortranarray(small))
    record = dict(segmentation=rle, area=4, bbox=[2, 1, 2, 2], point_coords=[[2.5, 1.5]],
                  crop_box=[0, 0, 5, 4], level=2, predicted_iou=0.9, stability_score=0.95)
    big = rescale_record(record, (8, 10))
    mask = mask_utils.decode(big['segmentation'])
    assert mask.shape == (8, 10) and mask[2:6, 4:8].all() and mask.sum() == 16
    assert big['area'] == 16 and big['bbox'] == [4, 2, 4, 4]
    assert big['point_coords'] == [[5.0, 3.0]] and big['crop_box'] == [0, 0, 10, 8]
    assert big['level'] == 2 and big['predicted_iou'] == 0.9


# -- 2. EXIF orientation -----------------------------------------------------------------------

def exif_jpeg(path: str, h: int, w: int, orientation: int) -> None:
    """A JPEG stored h x w whose EXIF says to show it rotated (6: 90 degrees clockwise)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, exif=exif)


def test_exif_rotated_jpeg_has_one_size_in_seeds_checks_and_batches(tmp_path, monkeypatch):
    root = str(tmp_path / 'photos')
    exif_jpeg(osp.join(root, 'images', 'phone.jpg'), 96, 128, orientation=6)
    write_image(osp.join(root, 'images', 'flat.jpg'), 100, 100)
    with open(osp.join(root, 'labels.csv'), 'w') as f:
        f.write('phone.jpg, dog\nflat.jpg, cat\n')
    path = osp.join(root, 'images', 'phone.jpg')
    assert image_size(path) == (128, 96)  # as shown upright
    assert LoadImage()(dict(img_path=path))['img'].shape[:2] == (128, 96)  # as decoded
    config = tiny_config(tmp_path, root)
    result = seed_image(init_stage_one(config), path, ['dog'])
    assert result.seed.shape == (128, 96)
    seed_dir = str(tmp_path / 'seeds')
    write_label_map(osp.join(seed_dir, 'phone.png'), result.seed)
    write_label_map(osp.join(seed_dir, 'flat.png'), np.zeros((100, 100), np.uint8))
    assert run_script(monkeypatch, 'tools/check_seeds.py', seed_dir, '--config', config) == 0
    # the size-ordered batches read the same size: the 96-wide phone photo comes first
    dataset = folder_dataset(root)
    sampler = PendingSeedSampler(dataset, str(tmp_path / 'none'), group_by_size=True)
    assert [dataset.get_data_info(i)['img_name'] for i in sampler] == ['flat', 'phone']


# -- 3. one id per image ---------------------------------------------------------------------

def test_two_files_with_one_stem_are_refused_naming_both(tmp_path):
    root = folder(str(tmp_path / 'photos'), {'photo.jpg': (8, 8), 'photo.png': (8, 8)},
                  'photo.jpg, cat\nphoto.png, dog\n')
    with pytest.raises(ValueError) as err:
        folder_dataset(root)
    images = osp.join(root, 'images')
    assert str(err.value) == (
        f"{root}/labels.csv: {images}/photo.jpg and {images}/photo.png have one name, 'photo', "
        'and would share one seed file; rename one of them')


def test_an_id_listed_twice_in_a_voc_split_is_refused(voc_root):
    with open(osp.join(voc_root, 'ImageSets', 'Segmentation', 'train.txt'), 'a') as f:
        f.write('img_a\n')
    with pytest.raises(ValueError, match="train.txt: image 'img_a' is listed twice"):
        DATASETS.build(dict(type='VOC12Dataset', data_root=voc_root, split='train'))


# -- 4. class names only -----------------------------------------------------------------------

def test_class_names_only_take_general_background_words_less_the_classes():
    from wsss.datasets.class_names import default_background_words
    assert len(DEFAULT_BACKGROUND_WORDS) == 23 and 'sky' in DEFAULT_BACKGROUND_WORDS
    assert default_background_words(['cat', 'Tree', 'boat,water']) == tuple(
        w for w in DEFAULT_BACKGROUND_WORDS if w not in ('tree', 'water'))


def test_class_names_only_give_foreground_and_no_background_words_a_warning(
        tmp_path, monkeypatch):
    from wsss.evaluation import seed_writer
    root = folder(str(tmp_path / 'photos'), {'one.jpg': (48, 64)}, 'one.jpg, dog\n')
    config = tiny_config(tmp_path, root)
    path = osp.join(root, 'images', 'one.jpg')
    model = init_stage_one(config)
    assert model.background_words == DEFAULT_BACKGROUND_WORDS  # cat, dog, person: none dropped
    seed = seed_image(model, path, ['dog']).seed
    assert ((seed > 0) & (seed < 255)).any()
    empty = seed_image(init_stage_one(config, cfg_options={'model.background_words': []}),
                       path, ['dog']).seed
    assert not ((empty > 0) & (empty < 255)).any()  # one class in the softmax: no gradient
    # the seed job says so, with a count
    warnings = []
    monkeypatch.setattr(seed_writer, 'print_log', lambda msg, **kw: warnings.append(msg))
    writer = seed_writer.SeedWriter(str(tmp_path / 'seeds'), workers=0)
    writer.dataset_meta = dict(classes=('background',) + CLASSES)
    for name, labels, seed in (('one', [0, 1, 0], empty), ('two', [0, 1, 0], seed),
                               ('none', [0, 0, 0], empty)):
        writer.process(None, [dict(img_name=name, img_path=path, ori_shape=seed.shape,
                                   img_labels=np.array(labels, np.uint8), cam_class_ids=[],
                                   pred_sem_seg=dict(data=torch.from_numpy(seed)[None]),
                                   seed_confidence=dict(data=torch.ones(1, *seed.shape)))])
    assert writer.evaluate(3) == {'seeds/written': 3, 'seeds/failed': 0}
    assert warnings == ['1 of 3 seeds written have no foreground pixel although their images '
                        'have labels (first: one); check the class names, '
                        "model.background_words and the seeder's thresholds"]


# -- 5. eval / check / demo on a folder config -----------------------------------------------

def test_eval_check_and_demo_take_a_folder_config(tmp_path, monkeypatch, capsys):
    root = folder(str(tmp_path / 'my photos'), {'a.jpg': (6, 8), 'b.png': (6, 8)},
                  'a.jpg, cat, person\nb.png, dog\n')
    gt_a, gt_b = np.zeros((6, 8), np.uint8), np.zeros((6, 8), np.uint8)
    gt_a[1:4, 1:4], gt_a[4:, 5:] = 1, 3
    gt_b[2:, :5] = 2
    seeds = str(tmp_path / 'seeds')
    for name, gt in (('a', gt_a), ('b', gt_b)):
        write_label_map(osp.join(root, 'masks', name + '.png'), gt)
        write_label_map(osp.join(seeds, name + '.png'), gt)
    # the shipped example config, pointed at the folder (a path with a space) by --data-root
    args = ['--config', CUSTOM, '--data-root', root]
    assert run_script(monkeypatch, 'tools/eval_seeds.py', seeds, *args) == 0
    out = capsys.readouterr().out
    assert f'2 images of {CUSTOM}, {seeds}' in out and 'mIoU' in out and '100.00' in out
    assert run_script(monkeypatch, 'tools/check_seeds.py', seeds, *args) == 0
    assert '2 images, 2 good seeds' in capsys.readouterr().out
    os.remove(osp.join(seeds, 'b.png'))
    assert run_script(monkeypatch, 'tools/check_seeds.py', seeds, *args) == 1
    assert 'missing: 1' in capsys.readouterr().out
    # demo: a folder config's classes, run from another folder
    monkeypatch.chdir(tmp_path)
    out_dir = str(tmp_path / 'demo')
    assert run_script(monkeypatch, 'tools/demo.py', osp.join(root, 'images', 'a.jpg'),
                      '--classes', 'cat', 'person', '--config', tiny_config(tmp_path, root),
                      '--out-dir', out_dir, '--device', 'cpu') == 0
    assert read_label_map(osp.join(out_dir, 'a_label.png')).shape == (6, 8)
    demo = runpy.run_path(osp.join(ROOT, 'tools/demo.py'))
    assert osp.isabs(demo['DEFAULT_CONFIG']) and osp.isfile(demo['DEFAULT_CONFIG'])


def test_tools_need_a_config_or_a_dataset(monkeypatch, capsys):
    assert run_script(monkeypatch, 'tools/check_seeds.py', 'seeds', '--dataset', 'voc12') == 2
    assert 'give --config CONFIG, or --dataset with --data-root and --split' in \
        capsys.readouterr().err


def test_every_example_folder_config_loads():
    for name in sorted(glob.glob(osp.join(ROOT, 'configs/custom/*.py'))):
        cfg = load_config(name)
        dataset = cfg.test_dataloader.dataset
        assert dataset.type == 'ImageFolderDataset' and dataset.data_root == 'data/custom'
        assert tuple(dataset.classes) == CLASSES and 'split' not in dataset
        assert dataset.pipeline, name
        if 'class_names' in cfg.model:
            assert tuple(cfg.model.class_names) == CLASSES


# -- 6. labels files and --data-root ---------------------------------------------------------

def test_labels_file_quotes_and_spaces_after_commas(tmp_path):
    root = folder(str(tmp_path / 'photos'),
                  {'img.jpg': (4, 4), 'my photo.jpg': (4, 4), 'x,y.jpg': (4, 4)},
                  'img.jpg, "cat"\n"my photo.jpg",  dog , person\n"x,y.jpg",cat\n')
    dataset = folder_dataset(root)
    got = {dataset.get_data_info(i)['img_name']: dataset.get_data_info(i)['img_labels'].tolist()
           for i in range(len(dataset))}
    assert got == {'img': [1, 0, 0], 'my photo': [0, 1, 1], 'x,y': [1, 0, 0]}


def test_a_labels_file_not_in_utf8_is_one_line_naming_file_line_and_encoding(tmp_path):
    root = folder(str(tmp_path / 'photos'), {'cafe.jpg': (4, 4)}, '')
    with open(osp.join(root, 'labels.csv'), 'wb') as f:
        f.write('# image, classes\ncafé.jpg, cat\n'.encode('cp1252'))
    with pytest.raises(ValueError) as err:
        folder_dataset(root)
    assert str(err.value) == (f'{root}/labels.csv:2: not UTF-8 text (byte 0xe9); save the file '
                              'as UTF-8 ("CSV UTF-8" in a spreadsheet program)')


def test_data_root_option_reaches_every_dataset_with_its_spaces(tmp_path):
    cfg = load_config(osp.join(ROOT, 'configs/deeplabv3plus/'
                               'deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'),
                      argparse.Namespace(work_dir=None, cfg_options=None, launcher='none',
                                         local_rank=0, data_root='/data/my data'))
    assert cfg.train_dataloader.dataset.dataset.data_root == '/data/my data'  # wrapped
    assert cfg.val_dataloader.dataset.data_root == '/data/my data'
    set_data_root(cfg, '/other')
    assert cfg.test_dataloader.dataset.data_root == '/other'


# -- 7. weights ------------------------------------------------------------------------------

def test_digests_the_urls_and_names_carry():
    from wsss.utils.weights import embedded_digest, openai_clip_url
    url = openai_clip_url('ViT-B-16')
    assert embedded_digest('ViT-B-16.pt', url) == ('sha256', url.split('/')[-2])
    assert len(url.split('/')[-2]) == 64
    assert embedded_digest('sam_vit_h_4b8939.pth') == ('md5', '4b8939')
    assert embedded_digest('resnet101_v1c-e67eebb6.pth') == ('sha256', 'e67eebb6')
    assert embedded_digest('checkpoint.pth') is None


def test_weights_tool_checks_a_weights_folder(tmp_path, weights_dir, monkeypatch, capsys):
    good, bad = b'good weights', b'bad weights'
    prefix = hashlib.sha256(good).hexdigest()[:8]
    configs = tmp_path / 'configs'
    configs.mkdir()
    (configs / 'a.py').write_text(
        "model = dict(type='X', backbone=dict(init_cfg=dict(type='Pretrained', checkpoint="
        f"'https://example.invalid/w/good-{prefix}.pth')), sam=dict(model_type='vit_b', "
        "checkpoint='sam_vit_b_01ec64.pth'))\n")
    (configs / 'b.py').write_text(
        "model = dict(type='Y', pretrained='https://example.invalid/w/bad-0123abcd.pth', "
        "clip=dict(name='ViT-B-16', pretrained='openai'))\n")
    with open(osp.join(weights_dir, f'good-{prefix}.pth'), 'wb') as f:
        f.write(good)
    with open(osp.join(weights_dir, 'bad-0123abcd.pth'), 'wb') as f:
        f.write(bad)
    args = ['--configs', str(configs)]
    assert run_script(monkeypatch, 'tools/weights.py', 'check', *args) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'missing  ViT-B-16.pt'
    assert lines[1].startswith(f'BAD      bad-0123abcd.pth: {weights_dir}/bad-0123abcd.pth')
    assert 'expected 0123abcd...' in lines[1]
    assert lines[2].startswith(f'ok       good-{prefix}.pth: {weights_dir}/good-{prefix}.pth')
    assert lines[3] == 'missing  sam_vit_b_01ec64.pth'
    assert lines[5].startswith('1 of 4 files present and valid')
    assert run_script(monkeypatch, 'tools/weights.py', 'check', f'good-{prefix}.pth',
                      *args) == 0
    assert run_script(monkeypatch, 'tools/weights.py', 'list', 'sam_vit_b_01ec64.pth',
                      *args) == 0
    out = capsys.readouterr().out
    assert 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth' in out
    assert 'md5 01ec64 (prefix)' in out and 'model.sam.checkpoint' in out
    assert osp.join(weights_dir, 'sam_vit_b_01ec64.pth') in out


def test_offline_clip_fails_at_once_with_the_files_list(weights_dir, monkeypatch):
    from wsss.models.clip import encoder
    from wsss.utils import weights
    monkeypatch.setattr(weights, 'openai_clip_url', lambda name: closed_port_url('ViT-B-16.pt'))
    with pytest.raises(FileNotFoundError) as err:  # find_weights' error: no open_clip hub path
        encoder.build_clip('ViT-B-16', pretrained='openai')
    message = str(err.value)
    assert 'ViT-B-16.pt' in message and weights_dir in message
    assert '`model.clip.pretrained`' in message and 'tools/weights.py list' in message
