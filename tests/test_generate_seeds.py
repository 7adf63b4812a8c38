"""CLIP-ES seed generation end to end with a tiny random CLIP: the model, the sampler that skips
finished images, tools/generate_seeds.py killed and rerun, and a 2-process run."""
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import ROOT, run_tool
from mmengine.config import Config
from mmseg.structures import SegDataSample

from wsss.datasets import PendingSeedSampler, VOC12Dataset
from wsss.io.seeds import read_label_map, write_label_map
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.datasets.transforms import ResizeToMultiple
from wsss.io.cams import load_cams
from wsss.registry import MODELS

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'),
                              (('train', 12), ('val', 1)))


def test_resize_to_multiple_keeps_the_original_shape():
    out = ResizeToMultiple(16)(dict(img=np.zeros((50, 70, 3), np.uint8), ori_shape=(50, 70)))
    assert out['img'].shape == (64, 80, 3) and out['ori_shape'] == (50, 70)
    same = ResizeToMultiple(16)(dict(img=np.zeros((32, 48, 3), np.uint8), ori_shape=(32, 48)))
    assert same['img'].shape == (32, 48, 3)


def test_model_gives_a_seed_of_the_labelled_classes_at_image_size():
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TINY)).model)
    labels = np.zeros(20, np.uint8)
    labels[[7, 14]] = 1  # cat, person
    sample = SegDataSample(metainfo=dict(img_labels=labels, ori_shape=(40, 56)))
    torch.manual_seed(0)
    with torch.no_grad():  # as in mmengine's test loop: the model enables grad itself
        out, = model.predict([torch.randint(0, 255, (3, 48, 64), dtype=torch.uint8)], [sample])
    seed = out.pred_sem_seg.data[0].numpy()
    assert seed.shape == (40, 56) and set(np.unique(seed)) <= {0, 8, 15}
    assert out.cams.data.shape == (2, 40, 56) and out.metainfo['cam_class_ids'] == [8, 15]
    conf = out.seed_confidence.data.numpy()
    assert conf.min() >= 0 and conf.max() <= 1
    assert not any(p.requires_grad for p in model.parameters())


def test_an_image_without_labels_gets_an_all_background_seed():
    model = MODELS.build(Config.fromfile(osp.join(ROOT, TINY)).model)
    sample = SegDataSample(metainfo=dict(img_labels=np.zeros(20, np.uint8), ori_shape=(40, 56)))
    with torch.no_grad():
        out, = model.predict([torch.zeros(3, 48, 64, dtype=torch.uint8)], [sample])
    assert (out.pred_sem_seg.data == 0).all() and out.cams.data.shape == (0, 40, 56)


def test_pending_sampler_skips_finished_images_and_shards_without_padding(voc_root, tmp_path,
                                                                          monkeypatch):
    dataset = VOC12Dataset(data_root=voc_root, split='train')  # img_a, img_b
    seed_dir = str(tmp_path / 'seeds')
    assert list(PendingSeedSampler(dataset, seed_dir)) == [0, 1]
    write_label_map(osp.join(seed_dir, 'img_a.png'), np.zeros((6, 8), np.uint8))
    open(osp.join(seed_dir, 'img_b.png.123.tmp'), 'w').write('half-written by a killed run')
    assert list(PendingSeedSampler(dataset, seed_dir)) == [1]
    assert os.listdir(seed_dir) == ['img_a.png']
    assert list(PendingSeedSampler(dataset, seed_dir, cam_dir=str(tmp_path / 'cams'))) == [0, 1]
    monkeypatch.setattr('wsss.datasets.samplers.get_dist_info', lambda: (1, 2))
    assert list(PendingSeedSampler(dataset, str(tmp_path / 'none'))) == [1]  # rank 1 of 2
    monkeypatch.setattr('wsss.datasets.samplers.get_dist_info', lambda: (0, 2))
    assert list(PendingSeedSampler(dataset, str(tmp_path / 'none'))) == [0]


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
    seed_dir = osp.join(work, 'seeds')
    (tmp_path / 'slow_seeder.py').write_text(SLOW_SEEDER)
    (tmp_path / 'slow.py').write_text(
        f"_base_ = ['{osp.join(ROOT, TINY)}']\n"
        "custom_imports = dict(imports=['slow_seeder'])\n"
        "model = dict(seeder=dict(_delete_=True, type='SlowSeeder'))\n"
        "test_evaluator = dict(workers=2)\n")
    cmd = [sys.executable, 'tools/generate_seeds.py', str(tmp_path / 'slow.py'), '--work-dir',
           work, *options(mini_voc)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if osp.isdir(seed_dir) and len([f for f in os.listdir(seed_dir)
                                        if f.endswith('_conf.png')]) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, 'the run finished before it could be killed'
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


def test_crf_seeder_in_the_model_ignores_unsure_pixels(mini_voc):
    cfg = Config.fromfile(osp.join(ROOT, TINY)).model
    cfg.seeder = dict(type='CRFSeeder', bg_power=1.0, confidence_threshold=0.95)
    model = MODELS.build(cfg)
    dataset = VOC12Dataset(data_root=mini_voc, split='train', pipeline=[
        dict(type='LoadImage'), dict(type='ResizeToMultiple'), dict(type='PackWSSSInputs')])
    data = dataset[0]
    with torch.no_grad():
        out, = model.predict([data['inputs']], [data['data_samples']])
    seed = out.pred_sem_seg.data[0].numpy()
    conf = out.seed_confidence.data[0].numpy()
    labelled = {c + 1 for c in np.flatnonzero(data['data_samples'].metainfo['img_labels'])}
    assert set(np.unique(seed)) <= {0, 255} | labelled
    np.testing.assert_array_equal(seed == 255, conf < 0.95)
