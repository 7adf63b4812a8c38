"""tools/generate_seeds.py --batch: same-size images through one forward give the CAM files of
the one-by-one run; models that run their own way refuse it in one line."""
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from conftest import ROOT
from test_batched_cams import TINY

from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.cams import load_cams
from wsss.models.clip import CLIPDenseEncoder


def run_seed_tool(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, 'argv', ['generate_seeds.py', *args])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(osp.join(ROOT, 'tools/generate_seeds.py'), run_name='__main__')
    return exit_info.value.code


def test_generate_seeds_batch_runs_same_size_images_together(tmp_path, monkeypatch):
    root = make_synthetic_voc(str(tmp_path / 'voc'), (('train', 4),))
    calls = []
    forward = CLIPDenseEncoder.forward
    monkeypatch.setattr(CLIPDenseEncoder, 'forward',
                        lambda self, images: calls.append(len(images)) or forward(self, images))

    def run(name: str, *extra: str) -> str:
        work = str(tmp_path / name)
        assert run_seed_tool(monkeypatch, TINY, '--work-dir', work, '--save-cams',
                             osp.join(work, 'cams'), '--no-eval', *extra, '--cfg-options',
                             f'test_dataloader.dataset.data_root={root}') == 0
        return work

    single = run('single')
    assert calls == [1, 1, 1, 1]
    calls.clear()
    batched = run('batched', '--batch', '4')
    assert calls == [4]  # the generated images share one size
    for i in range(4):
        ids, cams = load_cams(osp.join(batched, 'cams', f'train_{i:04d}.npz'))
        ref_ids, ref_cams = load_cams(osp.join(single, 'cams', f'train_{i:04d}.npz'))
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_allclose(cams, ref_cams, atol=1e-3)  # stored as float16


def test_generate_seeds_refuses_batch_for_models_that_run_their_own_way(monkeypatch):
    message = run_seed_tool(monkeypatch, 'configs/relevancy/relevancy_vit-tiny_minivoc.py',
                            '--batch', '2')  # a string code: printed to stderr, exit status 1
    assert message.startswith('error: --batch') and 'CLIPRelevancyModel' in message
    assert '\n' not in message
