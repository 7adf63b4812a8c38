"""tools/demo.py and wsss.apis.inference with a tiny random CLIP: the pictures and label map of one
image, the same seed as tools/generate_seeds.py, SAMS masks per image, and errors that say what
is wrong."""
import importlib.util
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import ROOT, run_tool
from pycocotools import mask as mask_utils

from wsss.apis import init_stage_one, seed_image
from wsss.datasets import VOC12Dataset
from wsss.datasets.class_names import VOC12_CLASSES
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.sam_masks import save_masks
from wsss.io.seeds import read_label_map

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'
TINY_SAMS = 'configs/fma_wsss/fma-coarse-seeds_vit-tiny_minivoc.py'


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'), (('train', 2),))


@pytest.fixture(scope='module')
def image(mini_voc) -> dict:
    """The data info of the tree's image with the most classes, plus their names."""
    dataset = VOC12Dataset(data_root=mini_voc, split='train')
    info = max((dataset.get_data_info(i) for i in range(len(dataset))),
               key=lambda info: info['img_labels'].sum())
    ids = [int(c) + 1 for c in np.flatnonzero(info['img_labels'])]
    return dict(info, class_ids=ids, names=[VOC12_CLASSES[c - 1] for c in ids])


@pytest.fixture(scope='module')
def runs(mini_voc, image, tmp_path_factory) -> dict:
    """tools/generate_seeds.py on the tree and tools/demo.py on its image, side by side."""
    work = str(tmp_path_factory.mktemp('runs'))
    commands = dict(
        seeds=['tools/generate_seeds.py', TINY, '--seed-dir', osp.join(work, 'seeds'),
               '--no-eval', '--work-dir', work,
               '--cfg-options', f'test_dataloader.dataset.data_root={mini_voc}'],
        demo=['tools/demo.py', image['img_path'], '--classes', *image['names'], '--config', TINY,
              '--out-dir', osp.join(work, 'demo'), '--device', 'cpu'])
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {name: pool.submit(run_tool, *args) for name, args in commands.items()}
        outs = {name: future.result() for name, future in futures.items()}
    for name, out in outs.items():
        assert out.returncode == 0, f'{name}: {out.stderr[-3000:]}'
    return dict(seed_dir=osp.join(work, 'seeds'), demo_dir=osp.join(work, 'demo'),
                demo_stdout=outs['demo'].stdout)


def test_demo_writes_pictures_and_the_seed_of_generate_seeds(image, runs):
    base = osp.join(runs['demo_dir'], image['img_name'])
    for suffix in ('_cams.png', '_seed.png', '_label.png'):
        assert base + suffix in runs['demo_stdout'] and osp.isfile(base + suffix)
    label = read_label_map(base + '_label.png')
    assert label.shape == (96, 128)
    assert set(np.unique(label)) <= {0, *image['class_ids']}
    np.testing.assert_array_equal(
        label, read_label_map(osp.join(runs['seed_dir'], image['img_name'] + '.png')))
    # one line per class with its share of the pixels, which add up to 100%
    shares = {name: float(runs['demo_stdout'].split(f'  {name} ')[1].split('%')[0])
              for name in ['background', *image['names']]}
    assert sum(shares.values()) == pytest.approx(100, abs=0.05)
    assert shares['background'] == pytest.approx(100 * (label == 0).mean(), abs=0.005)


def test_seed_image_equals_generate_seeds(image, runs):
    model = init_stage_one(osp.join(ROOT, TINY))
    result = seed_image(model, image['img_path'], image['names'])
    assert result.class_ids == image['class_ids']
    assert result.cams.shape == (len(image['class_ids']), 96, 128)
    assert result.cams.min() >= 0 and result.cams.max() <= 1
    name = osp.join(runs['seed_dir'], image['img_name'])
    np.testing.assert_array_equal(result.seed, read_label_map(name + '.png'))
    np.testing.assert_array_equal(np.rint(result.confidence.astype(np.float64) * 255),
                                  read_label_map(name + '_conf.png'))


def test_sams_seeder_reads_the_images_masks(image, tmp_path):
    model = init_stage_one(osp.join(ROOT, TINY_SAMS), cfg_options={
        'load_from': None, 'model.seeder.mask_dir': str(tmp_path)})
    with pytest.raises(OSError, match='tools/sam_masks.py'):  # names the command remaking it
        seed_image(model, image['img_path'], ['cat'])
    masks = np.zeros((2, 96, 128), np.uint8)
    masks[0, 10:40, 10:60] = 1
    masks[1, 50:90, 60:120] = 1
    records = [dict(segmentation=mask_utils.encode(np.asfortranarray(m)), level=2,
                    predicted_iou=0.9, stability_score=0.9, area=int(m.sum()), bbox=[0, 0, 1, 1])
               for m in masks]
    save_masks(osp.join(str(tmp_path), image['img_name'] + '.json'), records, (96, 128))
    seed = seed_image(model, image['img_path'], ['cat']).seed
    # min-max over the two masks: one scores 1 and becomes cat, the other background
    cat = VOC12_CLASSES.index('cat') + 1
    assert sorted(np.unique(seed[masks[0] == 1]).tolist() +
                  np.unique(seed[masks[1] == 1]).tolist()) == [0, cat]
    assert (seed[masks.sum(0) == 0] == 0).all()


def test_learned_prompts_come_from_the_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint /nowhere/iter_20.pth not found'):
        init_stage_one(osp.join(ROOT, TINY_SAMS), cfg_options={'load_from': '/nowhere/iter_20.pth'})
    model = init_stage_one(osp.join(ROOT, TINY_SAMS), cfg_options={'load_from': None})
    state = {k: v + 1 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    assert any(k.startswith('prompts.') for k in state)  # what a checkpoint holds: no frozen CLIP
    torch.save(dict(state_dict=state), tmp_path / 'prompts.pth')
    loaded = init_stage_one(osp.join(ROOT, TINY_SAMS), checkpoint=str(tmp_path / 'prompts.pth'))
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key


def run_demo_main(monkeypatch, *args: str) -> int:
    """tools/demo.py's main() in this process (no interpreter start-up), with ``args``."""
    spec = importlib.util.spec_from_file_location('demo_tool', osp.join(ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.setattr(sys, 'argv', ['demo.py', *args])
    monkeypatch.chdir(ROOT)
    return demo.main()


def test_unknown_class_exits_listing_the_valid_names(image, monkeypatch, capsys):
    assert run_demo_main(monkeypatch, image['img_path'], '--classes', 'cat', 'unicorn',
                         '--config', TINY) == 1
    err = capsys.readouterr().err
    assert "unknown class 'unicorn'" in err and 'aeroplane, bicycle' in err and 'tvmonitor' in err


def test_bad_image_and_missing_weights_give_clear_errors(image, tmp_path, monkeypatch, capsys):
    missing = str(tmp_path / 'missing.jpg')
    assert run_demo_main(monkeypatch, missing, '--classes', 'cat', '--config', TINY) == 1
    assert f'cannot read image {missing}' in capsys.readouterr().err
    truncated = str(tmp_path / 'truncated.jpg')
    with open(image['img_path'], 'rb') as src, open(truncated, 'wb') as dst:
        dst.write(src.read()[:1000])
    assert run_demo_main(monkeypatch, truncated, '--classes', 'cat', '--config', TINY) == 1
    assert f'image {truncated} is truncated' in capsys.readouterr().err
    # the default config (CLIP ViT-B/16 + CRF) with weights that are not there
    assert run_demo_main(monkeypatch, image['img_path'], '--classes', 'cat', '--cfg-options',
                         'model.clip.pretrained=/nowhere/ViT-B-16.pt') == 1
    assert "CLIP checkpoint '/nowhere/ViT-B-16.pt' not found" in capsys.readouterr().err
