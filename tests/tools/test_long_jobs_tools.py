"""Long jobs through their tools on the tiny VOC tree: every job that walks a dataset survives a
bad image (relevancy, TUSS steps, SAM masks, stage-two --format-only) and redoes a damaged output
as a fresh run writes it; a real Ctrl-C in a seed job is one line."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, TESTS, hold_options, run_tool_here, wait_for_seeds
from mmengine.config import Config
from test_long_jobs import (
    CLIP_ES,
    DEEPLAB,
    LP,
    RELEVANCY,
    SAM,
    ZERO_SHOT,
    break_image,
    cut,
    voc,  # noqa: F401 (fixture)
)
from test_seed_jobs import folder_bytes, write_sam_masks

from wsss.datasets import VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.mask_store import load_shard
from wsss.io.sam_masks import SAMMaskError, load_masks


# ---------------------------------------------------------------- bad images in every job
def test_relevancy_job_survives_a_bad_image_and_redoes_a_cut_seed(voc, tmp_path, monkeypatch,
                                                                  capsys):
    bad = break_image(voc, 'train_0001')
    work = str(tmp_path / 'work')
    args = [RELEVANCY, '--work-dir', work, '--no-eval', '--cfg-options',
            f'test_dataloader.dataset.data_root={voc}']
    assert run_tool_here(monkeypatch, 'generate_seeds.py', *args) == 1
    assert f'{bad}: cannot decode image {bad}' in capsys.readouterr().out
    assert json.load(open(osp.join(work, 'failed.json'))) == [
        dict(file=bad, reason=f'cannot decode image {bad}')]
    seed_dir = osp.join(work, 'seeds')
    seeds = folder_bytes(seed_dir)
    assert sorted(seeds) == [f'train_{i:04d}{s}.png' for i in (0, 2, 3) for s in ('', '_conf')]

    cut(osp.join(seed_dir, 'train_0002.png'))
    assert run_tool_here(monkeypatch, 'generate_seeds.py', *args) == 1  # the bad image again
    out = capsys.readouterr().out
    assert f'redoing 1 damaged output file: {seed_dir}/train_0002.png (cut short' in out
    assert folder_bytes(seed_dir) == seeds  # as the first, uninterrupted run wrote them


def test_every_tuss_step_survives_a_bad_image_and_redoes_a_cut_store_file(
        voc, tmp_path, monkeypatch, capsys):
    mask_dir = str(tmp_path / 'sam_masks')
    write_sam_masks(VOC12Dataset(data_root=voc, split='train'), mask_dir)
    bad = break_image(voc, 'train_0001')
    zero_shot = str(tmp_path / 'zero_shot')
    data = f'test_dataloader.dataset.data_root={voc}'
    args = [ZERO_SHOT, '--work-dir', zero_shot, '--no-eval', '--cfg-options', data,
            f'model.mask_dir={mask_dir}']
    assert run_tool_here(monkeypatch, 'generate_seeds.py', *args) == 1
    assert json.load(open(osp.join(zero_shot, 'failed.json'))) == [
        dict(file=bad, reason=f'cannot decode image {bad}')]
    store = osp.join(zero_shot, 'mask_store')
    assert sorted(os.listdir(store)) == [f'train_{i:04d}.npz' for i in (0, 2, 3)]
    before = {n: load_shard(osp.join(store, n)) for n in os.listdir(store)}
    seeds = folder_bytes(osp.join(zero_shot, 'seeds'))

    # the next step (label propagation) lists the image its input lacks and seeds the others
    lp = str(tmp_path / 'lp')
    seed_dir = osp.join(zero_shot, 'seeds')
    assert run_tool_here(monkeypatch, 'generate_seeds.py', LP, '--work-dir', lp, '--no-eval',
                         '--cfg-options', data, f'model.mask_dir={mask_dir}',
                         f'model.embeddings_from={seed_dir}', f'model.scores_from={seed_dir}',
                         'model.k=2') == 1
    failed = json.load(open(osp.join(lp, 'failed.json')))
    assert [f['file'] for f in failed] == [bad]
    assert f'{store}/train_0001.npz not found' in failed[0]['reason']
    assert sorted(os.listdir(osp.join(lp, 'mask_store'))) == sorted(before)

    # a step whose input lacks an image the embeddings have (it failed there) seeds the others
    lp_seeds = folder_bytes(osp.join(lp, 'seeds'))
    os.remove(osp.join(lp, 'mask_store', 'train_0002.npz'))
    lp2 = str(tmp_path / 'lp2')
    assert run_tool_here(monkeypatch, 'generate_seeds.py', LP, '--work-dir', lp2, '--no-eval',
                         '--cfg-options', data, f'model.mask_dir={mask_dir}',
                         f'model.embeddings_from={seed_dir}',
                         f'model.scores_from={osp.join(lp, "seeds")}', 'model.k=2') == 1
    failed = json.load(open(osp.join(lp2, 'failed.json')))
    assert sorted(f['file'] for f in failed) == sorted([bad, osp.join(voc, 'JPEGImages',
                                                                      'train_0002.jpg')])
    assert any(f'{lp}/mask_store/train_0002.npz not found' in f['reason'] for f in failed)
    assert sorted(os.listdir(osp.join(lp2, 'mask_store'))) == ['train_0000.npz',
                                                                'train_0003.npz']
    assert set(folder_bytes(osp.join(lp2, 'seeds'))) < set(lp_seeds)

    cut(osp.join(store, 'train_0003.npz'))
    with pytest.raises(ValueError, match=f'{store}/train_0003.npz.*rerun tools/generate_seeds.py '
                                         f'with --seed-dir {zero_shot}/seeds'):
        load_shard(osp.join(store, 'train_0003.npz'))
    capsys.readouterr()
    assert run_tool_here(monkeypatch, 'generate_seeds.py', *args) == 1
    assert f'redoing 1 damaged output file: {store}/train_0003.npz' in capsys.readouterr().out
    assert folder_bytes(osp.join(zero_shot, 'seeds')) == seeds
    after = load_shard(osp.join(store, 'train_0003.npz'))
    assert after.keys() == before['train_0003.npz'].keys()
    for key, value in after.items():  # npz files carry their write time: compare the arrays
        np.testing.assert_array_equal(value, before['train_0003.npz'][key])


def test_sam_mask_job_redoes_a_cut_mask_file(tmp_path, monkeypatch, capsys):
    voc = make_synthetic_voc(str(tmp_path / 'voc'), (('train', 2),))
    work = str(tmp_path / 'sam')
    args = [SAM, '--work-dir', work, '--cfg-options', f'test_dataloader.dataset.data_root={voc}',
            'test_dataloader.dataset.split=train', 'model.generator.points_per_side=4']
    assert run_tool_here(monkeypatch, 'sam_masks.py', *args) == 0
    mask_dir = osp.join(work, 'sam_masks')
    masks = folder_bytes(mask_dir)
    assert len(masks) == 2
    cut(osp.join(mask_dir, 'train_0001.json'))
    with pytest.raises(SAMMaskError, match='train_0001.json.*rerun tools/sam_masks.py with '
                                           '--mask-dir'):
        load_masks(osp.join(mask_dir, 'train_0001.json'))
    capsys.readouterr()
    assert run_tool_here(monkeypatch, 'sam_masks.py', *args) == 0
    assert f'redoing 1 damaged output file: {mask_dir}/train_0001.json' in \
        capsys.readouterr().out
    assert folder_bytes(mask_dir) == masks


def test_format_only_survives_a_bad_image(tmp_path, monkeypatch, capsys):
    root = make_synthetic_voc(str(tmp_path / 'voc'), (('val', 3),))
    bad = break_image(root, 'val_0001')
    model_cfg = Config.fromfile(osp.join(ROOT, DEEPLAB)).model
    from wsss.registry import MODELS
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=MODELS.build(model_cfg).state_dict(), meta={}), checkpoint)
    out = str(tmp_path / 'submission')
    code = run_tool_here(monkeypatch, 'test.py', DEEPLAB, checkpoint, '--format-only', '--out',
                         out, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                         f'test_dataloader.dataset.data_root={root}')
    assert code == 1
    assert f'{bad}: cannot decode image {bad}' in capsys.readouterr().out
    png_dir = osp.join(out, 'results/VOC2012/Segmentation/comp6_test_cls')
    assert sorted(os.listdir(png_dir)) == ['val_0000.png', 'val_0002.png']


# ---------------------------------------------------------------- Ctrl-C
def test_ctrl_c_in_a_seed_job_is_one_line(tmp_path):
    """A real SIGINT to a running seed job (held after its first image, so that it is still
    running when the signal comes, however loaded the machine): one line on stderr, no
    traceback."""
    voc = make_synthetic_voc(str(tmp_path / 'voc'), (('train', 8),))
    work, hold = str(tmp_path / 'work'), str(tmp_path / 'hold')
    open(hold, 'w').close()
    proc = subprocess.Popen(
        [sys.executable, 'tools/generate_seeds.py', CLIP_ES, '--work-dir', work, '--no-eval',
         '--cfg-options', f'test_dataloader.dataset.data_root={voc}',
         'test_dataloader.batch_size=1', 'test_evaluator.workers=1', *hold_options(hold, 1)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, ROOT])))
    try:
        wait_for_seeds(proc, osp.join(work, 'seeds'), 1, 300)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1].startswith('interrupted after ')
    assert err.strip().endswith('of 8 images; rerun the same command to resume')
