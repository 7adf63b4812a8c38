"""CLIP-ES seed generation end to end with a tiny random CLIP: tools/generate_seeds.py killed and
rerun, and a 2-process run (the model and the sampler in process: tests/unit/models)."""
import os
import os.path as osp
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, TESTS, kill_when_written, run_tool

from wsss.datasets import VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.cams import load_cams
from wsss.io.seeds import read_label_map

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'),
                              (('train', 12), ('val', 1)))


def options(root: str) -> list:
    return ['--cfg-options', f'test_dataloader.dataset.data_root={root}']


def seed_bytes(seed_dir: str) -> dict:
    return {f: open(osp.join(seed_dir, f), 'rb').read() for f in sorted(os.listdir(seed_dir))}


@pytest.fixture(scope='module')
def reference(mini_voc, tmp_path_factory) -> str:
    """One uninterrupted single-process run, with CAMs and pictures."""
    work = str(tmp_path_factory.mktemp('reference'))
    out = run_tool('tools/generate_seeds.py', TINY, '--work-dir', work, '--save-cams',
                   osp.join(work, 'cams'), '--show-dir', osp.join(work, 'show'), *options(mini_voc))
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r'seeds/written: 12', out.stdout + out.stderr)
    assert re.search(r'mIoU: \d+\.\d+', out.stdout)
    return work


def test_seed_run_writes_seeds_cams_and_pictures(reference, mini_voc):
    dataset = VOC12Dataset(data_root=mini_voc, split='train')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        seed = read_label_map(osp.join(reference, 'seeds', info['img_name'] + '.png'))
        gt = read_label_map(info['seg_map_path'])
        assert seed.shape == gt.shape
        labelled = {c + 1 for c in np.flatnonzero(info['img_labels'])}
        assert set(np.unique(seed)) <= {0} | labelled
        class_ids, cams = load_cams(osp.join(reference, 'cams', info['img_name'] + '.npz'))
        assert set(class_ids.tolist()) == labelled and cams.shape[1:] == gt.shape
        assert osp.isfile(osp.join(reference, 'show', info['img_name'] + '_seed.png'))
    assert len(os.listdir(osp.join(reference, 'seeds'))) == 24  # seed + confidence per image


SLOW_SEEDER = """
import time
from wsss.models.seeders import ArgmaxSeeder
from wsss.registry import SEEDERS


@SEEDERS.register_module()
class SlowSeeder(ArgmaxSeeder):
    def __call__(self, *args):
        time.sleep(0.5)
        return super().__call__(*args)
"""


def job_processes(work: str) -> list:
    """Processes (the job and its workers) whose command line names ``work``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if work.encode() in open(f'/proc/{pid}/cmdline', 'rb').read():
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_killed_seed_run_resumes_to_identical_seeds(reference, mini_voc, tmp_path):
    """Killed while the writer's pool holds unfinished images (its seeder is slow, the model
    fast), the job leaves no worker behind; the rerun writes the rest, each image once."""
    work = str(tmp_path / 'killed')
    seed_dir, hold = osp.join(work, 'seeds'), str(tmp_path / 'hold')
    (tmp_path / 'slow_seeder.py').write_text(SLOW_SEEDER)
    (tmp_path / 'slow.py').write_text(
        f"_base_ = ['{osp.join(ROOT, TINY)}']\n"
        "custom_imports = dict(imports=['slow_seeder', 'hold_hook'])\n"
        "model = dict(seeder=dict(_delete_=True, type='SlowSeeder'))\n"
        "test_evaluator = dict(workers=2)\n"
        f"default_hooks = dict(hold=dict(type='HoldAfterIters', iters=4, while_file='{hold}'))\n")
    cmd = [sys.executable, 'tools/generate_seeds.py', str(tmp_path / 'slow.py'), '--work-dir',
           work, *options(mini_voc)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), TESTS, ROOT]))
    kill_when_written(cmd, seed_dir, 3, hold, env=env)  # held after 8 images (2 an iteration)
    time.sleep(0.5)
    assert job_processes(work) == [], 'workers outlived the killed job'
    done = {f for f in os.listdir(seed_dir) if not f.endswith('_conf.png')}
    assert 0 < len(done) < 12

    out = run_tool('tools/generate_seeds.py', TINY, '--work-dir', work, *options(mini_voc))
    assert out.returncode == 0, out.stderr[-3000:]
    written = int(re.search(r'seeds/written: (\d+)', out.stdout + out.stderr).group(1))
    assert written == 12 - len([f for f in done if f.endswith('.png')])  # nothing redone
    assert seed_bytes(seed_dir) == seed_bytes(osp.join(reference, 'seeds'))


def test_two_process_seed_run_writes_each_image_once(reference, mini_voc, tmp_path):
    work = str(tmp_path / 'dist')
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port), PYTHONUNBUFFERED='1')
    out = subprocess.run(['bash', 'tools/dist_seeds.sh', TINY, '2', '--work-dir', work,
                          '--verbose', *options(mini_voc)], cwd=ROOT, capture_output=True,
                         text=True, env=env, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert 'GPU number: 2' in log
    # rank 0 gathers the names each rank wrote: 12 in all, none twice
    assert re.search(r'seeds/written: 12\b', log)
    # the same seeds as one process, up to float rounding (one thread per rank sums in another
    # order): confidences within one grey level, labels on all but a few tie pixels
    names = sorted(os.listdir(osp.join(reference, 'seeds')))
    assert sorted(os.listdir(osp.join(work, 'seeds'))) == names
    for name in names:
        a = read_label_map(osp.join(work, 'seeds', name)).astype(int)
        b = read_label_map(osp.join(reference, 'seeds', name)).astype(int)
        if name.endswith('_conf.png'):
            assert np.abs(a - b).max() <= 1, name
        else:
            assert (a != b).mean() < 0.01, name
