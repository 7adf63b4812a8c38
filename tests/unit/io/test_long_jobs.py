"""Long jobs trust only what they verified: a write killed half-way never shows a partial file,
readers name the file and the command that remakes it, a pipeline never mixes two runs of a step,
a damaged SAM-mask file fails its image, not the seed job, and the machine's faults (a full disk,
a damaged checkpoint, Ctrl-C) are one line each. The jobs through their tools: tests/tools."""
import errno
import json
import os
import os.path as osp
import signal
import subprocess

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from pycocotools import mask as mask_utils
from test_seed_jobs import write_sam_masks

import wsss.io.atomic
from wsss.apis import run_main
from wsss.apis.pipeline import PipelineError, run_pipeline, write_record
from wsss.datasets import VOC12Dataset
from wsss.datasets.samplers import PendingSampler
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.evaluation import write_failed_list
from wsss.io import DiskFullError, incomplete
from wsss.io.cams import load_cams, save_cams
from wsss.io.mask_store import save_shard
from wsss.io.progress import JobProgress
from wsss.io.sam_masks import save_masks
from wsss.io.seeds import write_confidence, write_label_map
from wsss.utils.cache import cached_json
from wsss.utils.checkpoint import CheckpointError, load_local_checkpoint

CLIP_ES = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'
RELEVANCY = 'configs/relevancy/relevancy_vit-tiny_minivoc.py'
ZERO_SHOT = 'configs/tuss/tuss-zero-shot_vit-tiny_minivoc.py'
LP = 'configs/tuss/tuss-lp_tiny_minivoc.py'
SAM = 'configs/sam/sam_tiny_minivoc.py'
DEEPLAB = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'


@pytest.fixture
def voc(tmp_path) -> str:
    """Four training images (portrait, odd sizes would cost more: the tiny models take any)."""
    return make_synthetic_voc(str(tmp_path / 'voc'), (('train', 4),))


def break_image(root: str, name: str) -> str:
    path = osp.join(root, 'JPEGImages', name + '.jpg')
    open(path, 'wb').write(b'\xff\xd8 this is no JPEG')
    return path


def cut(path: str) -> bytes:
    """Cut a file to half its length, as a kill or a full disk during a copy leaves it; returns
    its bytes before."""
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    return data


# ---------------------------------------------------------------- a write killed half-way
class DiesHalfway:
    """A file that writes half of what it is given, then kills its process."""

    def __init__(self, f) -> None:
        self.f = f

    def write(self, data) -> None:
        self.f.write(data[:max(1, len(data) // 2)])
        self.f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


def killed_while_writing(write) -> None:
    """Run ``write()`` in a forked process killed (SIGKILL) in the middle of its first write."""
    pid = os.fork()
    if pid == 0:
        try:
            real_open = open
            wsss.io.atomic.open = lambda *a, **k: DiesHalfway(real_open(*a, **k))
            write()
        finally:
            os._exit(3)  # not reached: the write kills the process
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


LABEL = np.array([[0, 1, 1], [2, 255, 0]], np.uint8)
RLE = mask_utils.encode(np.asfortranarray(np.eye(4, dtype=np.uint8)))
WRITERS = {
    'seed.png': lambda p, v: write_label_map(p, LABEL + v),
    'confidence.png': lambda p, v: write_confidence(p, np.full((3, 5), 0.25 * v)),
    'cams.npz': lambda p, v: save_cams(p, [1, 3], np.full((2, 3, 4), 0.5 * v)),
    'sam_masks.json': lambda p, v: save_masks(p, [dict(segmentation=RLE, level=v,
                                                       predicted_iou=0.9, stability_score=0.9,
                                                       area=4, bbox=[0, 0, 4, 4])], (4, 4)),
    'mask_store.npz': lambda p, v: save_shard(p, dict(scores=np.full((3, 2), v, np.float32))),
    'failed.json': lambda p, v: write_failed_list(p, [dict(file='x.jpg', reason=str(v))]),
    'done.json': lambda p, v: write_record(p, dict(step='s', output=f'iter_{v}.pth')),
}


def content(path: str):
    """What a reader gets: arrays of an npz (which carries its write time), else the bytes."""
    if path.endswith('.npz'):
        with np.load(path) as f:
            return {k: f[k].tolist() for k in f.files}
    return open(path, 'rb').read()


class Names:
    """A dataset of one image named 'img' (what PendingSampler reads of a dataset)."""

    def __len__(self) -> int:
        return 1

    def get_data_info(self, i: int) -> dict:
        return dict(img_name='img')


@pytest.mark.parametrize('kind', sorted(WRITERS))
def test_a_write_killed_halfway_leaves_no_partial_file_and_the_rerun_redoes_it(kind, tmp_path):
    write = WRITERS[kind]
    ext = osp.splitext(kind)[1]
    path = str(tmp_path / 'out' / ('img' + ext))
    fresh = str(tmp_path / 'fresh' / ('img' + ext))
    write(fresh, 1)

    killed_while_writing(lambda: write(path, 1))
    assert not osp.exists(path)  # a reader sees no file, not a partial one
    assert [n for n in os.listdir(tmp_path / 'out') if n.endswith('.tmp')]
    sampler = PendingSampler(Names(), [str(tmp_path / 'out' / ('{img_name}' + ext))])
    assert list(sampler) == [0] and not os.listdir(tmp_path / 'out')  # temp file removed
    write(path, 1)  # the rerun
    assert content(path) == content(fresh) and incomplete(path) is None
    assert list(PendingSampler(Names(), [str(tmp_path / 'out' / ('{img_name}' + ext))])) == []

    killed_while_writing(lambda: write(path, 2))  # over a finished file: it stays whole
    assert content(path) == content(fresh)


def test_a_cache_write_killed_halfway_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setenv('WSSS_CACHE_DIR', str(tmp_path))
    killed_while_writing(lambda: cached_json('kind', 'key', lambda: [1, 2, 3]))
    assert not osp.exists(tmp_path / 'kind' / 'key.json')
    assert cached_json('kind', 'key', lambda: [1, 2, 3]) == [1, 2, 3]
    assert json.load(open(tmp_path / 'kind' / 'key.json')) == [1, 2, 3]


@pytest.mark.parametrize('ext', ['.png', '.npz', '.json'])
def test_every_cut_of_a_store_file_is_incomplete(ext, tmp_path):
    path = str(tmp_path / ('x' + ext))
    {'.png': WRITERS['seed.png'], '.npz': WRITERS['mask_store.npz'],
     '.json': WRITERS['sam_masks.json']}[ext](path, 1)
    data = open(path, 'rb').read()
    assert incomplete(path) is None
    # a JSON document without its newline is whole (files written before it had one): it parses
    end = len(data) - (ext == '.json')
    for n in sorted({*range(0, end, 7), *range(max(0, end - 40), end)}):
        open(path, 'wb').write(data[:n])
        assert incomplete(path) is not None, n
    open(path, 'wb').write(data[:-16] + bytes(16))  # a power cut's zeros at the end
    assert incomplete(path) is not None


def test_readers_name_the_file_and_the_command_that_remakes_it(tmp_path):
    cams = str(tmp_path / 'cams' / 'a.npz')
    WRITERS['cams.npz'](cams, 1)
    cut(cams)
    with pytest.raises(ValueError, match=f'cannot read CAM file {cams}.*delete {cams} and rerun '
                                         f'tools/generate_seeds.py with --save-cams'):
        load_cams(cams)
    from wsss.evaluation import evaluate_seed_dir
    seed_dir, gt = str(tmp_path / 'seeds'), str(tmp_path / 'gt.png')
    write_label_map(gt, LABEL)
    write_label_map(osp.join(seed_dir, 'a.png'), LABEL)
    cut(osp.join(seed_dir, 'a.png'))
    with pytest.raises(ValueError, match=f'a.png.*rerun tools/generate_seeds.py with --seed-dir '
                                         f'{seed_dir}'):
        evaluate_seed_dir([('a', gt)], seed_dir, 21)


# ---------------------------------------------------------------- pipelines
def fake_tool(command, env=None):
    """tools/train.py and tools/test.py as run_pipeline runs them, in a blink: training writes
    a checkpoint at half and at the end of its schedule, and mmengine's last_checkpoint; a test
    writes which checkpoint it was given."""
    script, config = osp.basename(command[1]), command[2]
    step_dir = command[command.index('--work-dir') + 1]
    if script == 'train.py':
        iters = Config.fromfile(config).train_cfg.max_iters
        for i in (iters // 2, iters):
            open(osp.join(step_dir, f'iter_{i}.pth'), 'w').write(f'{config} {i}')
        open(osp.join(step_dir, 'last_checkpoint'), 'w').write(
            osp.join(step_dir, f'iter_{iters}.pth'))
    else:
        metrics_dir = command[command.index('--metrics-dir') + 1]
        json.dump(dict(mIoU=1.0, checkpoint=command[3]),
                  open(osp.join(metrics_dir, 'metrics.json'), 'w'))
    return subprocess.CompletedProcess(command, 0)


def stage_two_pipeline(work_dir: str, iters: int, test_scale: float = 1.0) -> Config:
    return Config(dict(work_dir=work_dir, steps=dict(
        stage_two=dict(tool='train', config=DEEPLAB,
                       cfg_options=dict(train_cfg=dict(max_iters=iters))),
        stage_two_test=dict(tool='test', config=DEEPLAB, inputs={'load_from': 'stage_two'},
                            cfg_options=dict(model=dict(test_cfg=dict(scale=test_scale)))))))


def test_a_pipeline_rerun_never_mixes_two_runs_of_a_step(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, 'run', fake_tool)
    work = str(tmp_path / 'work')
    tested = osp.join(work, 'stage_two_test', 'metrics.json')
    run_pipeline(stage_two_pipeline(work, 20), log=lambda *a: None)
    assert json.load(open(tested))['checkpoint'] == osp.join(work, 'stage_two/iter_20.pth')

    # a finished step rerun with another schedule: refused, in one line naming the option
    with pytest.raises(PipelineError) as error:
        run_pipeline(stage_two_pipeline(work, 10), log=lambda *a: None)
    assert str(error.value) == ('step stage_two ran with train_cfg.max_iters=20, now 10: rerun '
                                'with --redo stage_two to redo it (and the steps that use it) '
                                'in a fresh folder, or restore the option')
    # the test's output lost: the test runs again on the checkpoint its input step recorded,
    # not on the latest file in the folder (iter_10.pth of the same run is there too)
    os.remove(tested)
    os.utime(osp.join(work, 'stage_two/iter_10.pth'))
    records = run_pipeline(stage_two_pipeline(work, 20), log=lambda *a: None)
    assert [r['status'] for r in records] == ['skipped', 'ran']
    assert json.load(open(tested))['checkpoint'] == osp.join(work, 'stage_two/iter_20.pth')

    # forced: the step and the step that uses it run again in fresh folders
    records = run_pipeline(stage_two_pipeline(work, 10), log=lambda *a: None,
                           redo=['stage_two'])
    assert [r['status'] for r in records] == ['ran', 'ran']
    assert records[0]['output'] == osp.join(work, 'stage_two/iter_10.pth')
    assert json.load(open(tested))['checkpoint'] == osp.join(work, 'stage_two/iter_10.pth')
    assert not osp.exists(osp.join(work, 'stage_two/iter_20.pth'))
    assert len([n for n in os.listdir(work) if n.startswith('stage_two.old-')]) == 1

    # a step killed before it finished, restarted with another option: refused too
    os.remove(osp.join(work, 'stage_two_test', 'done.json'))
    with pytest.raises(PipelineError, match='step stage_two_test ran with '
                                            'model.test_cfg.scale=1.0, now 0.5'):
        run_pipeline(stage_two_pipeline(work, 10, test_scale=0.5), log=lambda *a: None)


# ---------------------------------------------------------------- the machine's faults
def test_a_full_disk_is_one_line_naming_the_path_and_the_free_space(tmp_path, monkeypatch,
                                                                    capsys):
    path = str(tmp_path / 'seeds' / 'a.png')

    class Full:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def __enter__(self):
            raise OSError(errno.ENOSPC, 'No space left on device')

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(wsss.io.atomic, 'open', Full, raising=False)
    with pytest.raises(DiskFullError, match=f'disk full writing {path} \\(.* free there\\): free '
                                            'some space, then rerun the same command to resume'):
        write_label_map(path, LABEL)
    assert os.listdir(tmp_path / 'seeds') == []

    def main() -> None:
        write_label_map(path, LABEL)

    with pytest.raises(SystemExit) as exit_info:
        run_main(main)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f'error: disk full writing {path}')


def test_a_cut_checkpoint_is_one_line_saying_re_download_or_retrain(tmp_path, capsys):
    path = str(tmp_path / 'iter_20.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(100))), path)
    assert load_local_checkpoint(path)['state_dict']['w'].sum() == 100
    cut(path)
    with pytest.raises(CheckpointError, match=f'cannot read checkpoint {path} .*: it is '
                                              'truncated or damaged; re-download or retrain it'):
        load_local_checkpoint(path)
    with pytest.raises(SystemExit) as exit_info:
        run_main(lambda: load_local_checkpoint(path))
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1 and len(err.splitlines()) == 1
    assert err.endswith('re-download or retrain it')


def test_ctrl_c_says_how_far_the_job_came_and_how_to_resume(capsys, monkeypatch):
    monkeypatch.setattr(JobProgress, 'total', None)
    monkeypatch.setattr(JobProgress, 'done', 0)

    def main() -> None:
        JobProgress.start(total=6, done=2)  # two finished before this run
        JobProgress.advance()
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_info:
        run_main(main)
    assert exit_info.value.code == 130
    assert capsys.readouterr().err.strip() == (
        'interrupted after 3 of 6 images; rerun the same command to resume')


@pytest.mark.parametrize('defer, workers', [(False, 0), (True, 0), (True, 1)])
def test_sams_seeds_list_an_image_whose_sam_masks_are_damaged(voc, tmp_path, defer, workers):
    """FMA-WSSS's SAMS seeder, in the model or in the writer's workers: a cut SAM-mask file
    fails its image (listed with the file and the command remaking it), not the job."""
    from test_seed_jobs import PIPELINE

    from wsss.evaluation import SeedWriter
    from wsss.registry import MODELS
    dataset = VOC12Dataset(data_root=voc, split='train', pipeline=PIPELINE)
    mask_dir = str(tmp_path / 'masks')
    write_sam_masks(dataset, mask_dir)
    cut(osp.join(mask_dir, 'train_0002.json'))
    cfg = Config.fromfile(osp.join(ROOT, CLIP_ES)).model
    model = MODELS.build(dict(cfg, seeder=dict(type='SAMSSeeder', mask_dir=mask_dir),
                              defer_seeding=defer))
    failed_file = str(tmp_path / 'failed.json')
    writer = SeedWriter(seed_dir=str(tmp_path / 'seeds'), workers=workers,
                        failed_file=failed_file)
    writer.dataset_meta = dict(classes=dataset.metainfo['classes'])
    data = [dataset[i] for i in range(len(dataset))]
    with torch.no_grad():
        samples = model.predict([d['inputs'] for d in data], [d['data_samples'] for d in data])
    writer.process(None, [s.to_dict() for s in samples])
    assert writer.evaluate(len(data)) == {'seeds/written': 3, 'seeds/failed': 1}
    failed, = json.load(open(failed_file))
    assert failed['file'] == dataset.get_data_info(2)['img_path']
    assert f'{mask_dir}/train_0002.json' in failed['reason']
    assert 'rerun tools/sam_masks.py with --mask-dir' in failed['reason']
    assert not osp.exists(tmp_path / 'seeds' / 'train_0002.png')
