"""The whole TUSS chain through the tools on a generated VOC tree (tiny random CLIP and SAM):
tools/run_pipeline.py killed inside the embedding step and rerun, the same store and seeds as an
uninterrupted run, seeds that pass tools/check_seeds.py, and a 2-process embedding step."""
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, TESTS, hold_options, kill_when_written
from mmengine.config import Config

from wsss.datasets import VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.seeds import read_label_map

PIPELINE = osp.join(ROOT, 'configs/pipelines/tuss_tiny_minivoc.py')
STEPS = ['sam_masks', 'zero_shot', 'zero_shot_eval', 'lp1', 'lp1_eval', 'probe1', 'probe1_seeds',
         'probe1_eval', 'lp2', 'lp2_eval', 'probe2', 'probe2_seeds', 'final_seed_eval',
         'sam_masks_val', 'zero_shot_val', 'comb_val', 'comb_val_eval']
SHORT = ['steps.probe1.cfg_options.train_cfg.max_iters=4',
         'steps.probe2.cfg_options.train_cfg.max_iters=4']
N_TRAIN = 5


def hold_file(work_dir: str) -> str:
    return work_dir + '.hold'


def pipeline_command(work_dir: str) -> list:
    """The pipeline, short, its embedding step held after 2 images while hold_file exists."""
    return [sys.executable, osp.join(ROOT, 'tools/run_pipeline.py'), PIPELINE, '--work-dir',
            work_dir, '--cfg-options', *SHORT,
            *hold_options(hold_file(work_dir), 2, 'steps.zero_shot.cfg_options.')]


def files(folder: str) -> dict:
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(osp.join(folder, name), 'rb') as f:
            out[name] = f.read()
    return out


def store_arrays(folder: str) -> dict:
    return {name: dict(np.load(osp.join(folder, name))) for name in sorted(os.listdir(folder))}


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    """A pipeline run SIGKILLed once the embedding step has written 2 seeds, then rerun."""
    cwd = str(tmp_path_factory.mktemp('tuss'))
    make_synthetic_voc(osp.join(cwd, 'data/mini_voc'), (('train', N_TRAIN), ('val', 1)))
    work_dir = osp.join(cwd, 'work_dirs', 'tuss')
    seed_dir = osp.join(work_dir, 'zero_shot/seeds')
    kill_when_written(pipeline_command(work_dir), seed_dir, 2, hold_file(work_dir), cwd=cwd,
                      group=True)
    written = len([n for n in os.listdir(seed_dir) if n.endswith('_conf.png')])
    out = subprocess.run(pipeline_command(work_dir), cwd=cwd, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return cwd, work_dir, out.stdout + out.stderr, written


def test_every_step_ran_and_the_final_seeds_pass_check_seeds(chain):
    cwd, work_dir, log, _ = chain
    for name in STEPS:
        assert osp.isfile(osp.join(work_dir, name, 'done.json')), name
    assert re.search(r'seed mIoU \(comb_val_eval\): \d+\.\d+', log)
    assert osp.isfile(osp.join(work_dir, 'final_seed_eval/metrics.json'))
    # new images: open-vocabulary store (every class) and combined seeds
    val_store = osp.join(work_dir, 'zero_shot_val/mask_store')
    assert [np.load(osp.join(val_store, n))['cls_lb'].all() for n in os.listdir(val_store)] == [
        True]
    assert len(os.listdir(osp.join(work_dir, 'comb_val/mask_store'))) == 1
    for step in ('zero_shot', 'lp1', 'probe1_seeds', 'lp2', 'probe2_seeds'):
        assert len(os.listdir(osp.join(work_dir, step, 'mask_store'))) == N_TRAIN, step
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/check_seeds.py'),
         osp.join(work_dir, 'probe2_seeds/seeds'), '--dataset', 'voc12', '--data-root',
         osp.join(cwd, 'data/mini_voc'), '--split', 'train'],
        cwd=cwd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset = VOC12Dataset(data_root=osp.join(cwd, 'data/mini_voc'), split='train')
    for i in range(len(dataset)):  # weak supervision: only the image's labelled classes
        info = dataset.get_data_info(i)
        seed = read_label_map(osp.join(work_dir, 'probe2_seeds/seeds', info['img_name'] + '.png'))
        labelled = {c + 1 for c in np.flatnonzero(info['img_labels'])}
        assert set(np.unique(seed)) <= {0} | labelled
    # wiring: LP2 propagates probe1's scores over the zero-shot embeddings
    lp2 = Config.fromfile(osp.join(work_dir, 'configs/lp2.py'))
    assert lp2.model.scores_from == osp.join(work_dir, 'probe1_seeds/seeds')
    assert lp2.model.embeddings_from == osp.join(work_dir, 'zero_shot/seeds')
    probe2 = Config.fromfile(osp.join(work_dir, 'configs/probe2_seeds.py'))
    assert probe2.load_from == osp.join(work_dir, 'probe2/iter_4.pth')


def test_killed_embedding_step_resumes_to_the_same_store_and_seeds(chain):
    cwd, work_dir, log, written = chain
    assert written == 2, 'the kill should land inside the embedding step'
    fresh = osp.join(cwd, 'fresh')
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/generate_seeds.py'),
         osp.join(work_dir, 'configs/zero_shot.py'), '--seed-dir', osp.join(fresh, 'seeds'),
         '--no-eval', '--work-dir', fresh], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert files(osp.join(work_dir, 'zero_shot/seeds')) == files(osp.join(fresh, 'seeds'))
    resumed = store_arrays(osp.join(work_dir, 'zero_shot/mask_store'))
    uninterrupted = store_arrays(osp.join(fresh, 'mask_store'))
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        for key, value in resumed[name].items():
            np.testing.assert_array_equal(value, uninterrupted[name][key], err_msg=name + key)


def test_two_process_embedding_step_writes_every_image_once(chain):
    cwd, work_dir, _, _ = chain
    dist = osp.join(cwd, 'dist')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port), PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join([TESTS, ROOT]))
    out = subprocess.run(['bash', osp.join(ROOT, 'tools/dist_seeds.sh'),
                          osp.join(work_dir, 'configs/zero_shot.py'), '2', '--seed-dir',
                          osp.join(dist, 'seeds'), '--no-eval', '--work-dir', dist],
                         cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert re.search(rf'seeds/written: {N_TRAIN}\b', log)
    assert sorted(os.listdir(osp.join(dist, 'mask_store'))) == sorted(
        os.listdir(osp.join(work_dir, 'zero_shot/mask_store')))
    for name, arrays in store_arrays(osp.join(dist, 'mask_store')).items():
        one = np.load(osp.join(work_dir, 'zero_shot/mask_store', name))
        np.testing.assert_allclose(arrays['embeddings'], one['embeddings'], atol=1e-4)


def test_second_run_skips_every_finished_step(chain):
    cwd, work_dir, _, _ = chain
    out = subprocess.run(pipeline_command(work_dir), cwd=cwd, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for name in STEPS:
        assert f'{name}: done before' in out.stdout, name
