"""The relevancy seeder through tools/generate_seeds.py on a generated VOC tree: a run killed
half-way and rerun gives seeds that pass tools/check_seeds.py and equal a one-pass computation."""
import os
import os.path as osp
import re
import runpy
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, hold_options, kill_when_written, run_tool
from test_relevancy import TINY

from wsss.apis import init_stage_one, seed_image
from wsss.datasets import VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.seeds import (
    confidence_path,
    read_label_map,
    seed_path,
    write_confidence,
    write_label_map,
)


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'),
                              (('train', 8), ('val', 1)))


def seed_bytes(seed_dir: str) -> dict:
    return {f: open(osp.join(seed_dir, f), 'rb').read() for f in sorted(os.listdir(seed_dir))}


def one_pass_seeds(mini_voc: str, seed_dir: str) -> None:
    """The seeds of the mini VOC's train split, computed here in one pass through the model's
    test step (``seed_image``) and written as tools/generate_seeds.py writes them."""
    model = init_stage_one(osp.join(ROOT, TINY),
                           cfg_options={'test_dataloader.dataset.data_root': mini_voc})
    classes = model.dataset_meta['classes']
    dataset = VOC12Dataset(data_root=mini_voc, split='train')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        with torch.no_grad():
            result = seed_image(model, info['img_path'],
                                [classes[c + 1] for c in np.flatnonzero(info['img_labels'])])
        write_confidence(confidence_path(seed_dir, info['img_name']), result.confidence)
        write_label_map(seed_path(seed_dir, info['img_name']), result.seed)


def test_killed_seed_run_resumes_to_contract_seeds_identical_to_one_pass(mini_voc, tmp_path,
                                                                       monkeypatch, capsys):
    work = str(tmp_path / 'killed')
    seed_dir, show_dir = osp.join(work, 'seeds'), osp.join(work, 'show')
    args = ['tools/generate_seeds.py', TINY, '--work-dir', work, '--show-dir', show_dir,
            '--cfg-options', f'test_dataloader.dataset.data_root={mini_voc}']
    hold = str(tmp_path / 'hold')
    kill_when_written([sys.executable, *args, 'test_dataloader.batch_size=1',
                       *hold_options(hold, 2)], seed_dir, 2, hold)
    done = [f for f in os.listdir(seed_dir) if f.endswith('.png') and '_conf' not in f]
    assert len(done) == 2

    out = run_tool(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    written = int(re.search(r'seeds/written: (\d+)', out.stdout + out.stderr).group(1))
    assert written == 8 - len(done)  # nothing redone
    assert re.search(r'mIoU: \d+\.\d+', out.stdout)

    # the seed contract, checked by tools/check_seeds.py
    monkeypatch.setattr(sys, 'argv', ['check_seeds.py', seed_dir, '--dataset', 'voc12',
                                      '--data-root', mini_voc, '--split', 'train'])
    with pytest.raises(SystemExit) as exit_code:
        runpy.run_path(osp.join(ROOT, 'tools/check_seeds.py'), run_name='__main__')
    assert exit_code.value.code == 0 and '8 images, 8 good seeds' in capsys.readouterr().out
    dataset = VOC12Dataset(data_root=mini_voc, split='train')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        seed = read_label_map(seed_path(seed_dir, info['img_name']))
        assert set(np.unique(seed)) <= {0} | {c + 1 for c in np.flatnonzero(info['img_labels'])}
        for picture in ('_cams.png', '_seed.png'):
            assert osp.isfile(osp.join(show_dir, info['img_name'] + picture))

    reference = str(tmp_path / 'one_pass')
    one_pass_seeds(mini_voc, reference)
    assert seed_bytes(seed_dir) == seed_bytes(reference)
