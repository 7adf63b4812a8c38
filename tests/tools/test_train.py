"""tools/train.py and tools/test.py on the tiny configs over a generated mini VOC tree:
train, checkpoint, resume, TensorBoard events, testing, and misconfiguration errors (a real
2-process gloo run: tests/e2e/test_dist_train.py).
Every stage-two config (SegFormer included) trains in-process in test_stage_two.py."""
import errno
import glob
import importlib.util
import os
import os.path as osp
import re
import socket
import weakref

import pytest
import torch
import torch.distributed as dist
from conftest import run_tool

from wsss.apis import close_distributed, run_main
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.utils.checkpoint import load_local_checkpoint

DLV3 = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'),
                              (('train', 8), ('val', 2)))


def data_options(root: str, iters: int) -> list:
    return [
        f'train_dataloader.dataset.dataset.data_root={root}',
        f'train_dataloader.dataset.seed_dir={root}/SegmentationClass',
        f'val_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}',
        f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
    ]


def train(config, work_dir, root, iters, *extra):
    out = run_tool('tools/train.py', config, '--work-dir', work_dir, *extra, '--cfg-options',
                   *data_options(root, iters))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return out.stdout + out.stderr


def test_train_saves_and_resumes_at_the_right_iteration(mini_voc, tmp_path):
    work_dir = str(tmp_path / 'work')
    log = train(DLV3, work_dir, mini_voc, 4,
                '--cfg-options', 'default_hooks.visualization.interval=1')
    ckpt = load_local_checkpoint(osp.join(work_dir, 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4
    # TensorBoard event files (on by default) and the validation images drawn
    vis_data = glob.glob(osp.join(work_dir, '*', 'vis_data'))[0]
    if importlib.util.find_spec('tensorboard') is None:
        assert 'pip install tensorboard' in log
    else:
        assert glob.glob(osp.join(vis_data, 'events.out.tfevents.*')), os.listdir(vis_data)
    assert os.listdir(osp.join(vis_data, 'vis_image'))

    log = train(DLV3, work_dir, mini_voc, 6, '--resume')
    assert 'train: 4 of 6 iterations already done, 2 to go' in log, log[-3000:]
    assert 'val at iteration 6: aAcc' in log and 'System environment' not in log
    ckpt = load_local_checkpoint(osp.join(work_dir, 'iter_6.pth'))
    assert ckpt['meta']['iter'] == 6
    weights = ckpt['state_dict']
    assert any(k.startswith('decode_head.') for k in weights)

    out = run_tool('tools/test.py', DLV3, osp.join(work_dir, 'iter_6.pth'), '--work-dir',
                   work_dir, '--cfg-options', *data_options(mini_voc, 6))
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r'mIoU \d+\.\d+', out.stdout + out.stderr)
    assert osp.isfile(osp.join(work_dir, 'test', 'metrics.json'))


def test_a_full_disk_at_a_checkpoint_stops_in_one_line_and_resume_goes_on(mini_voc, tmp_path,
                                                                           monkeypatch,
                                                                           tool_here):
    from mmengine.fileio.backends import LocalBackend
    work_dir = str(tmp_path / 'work')
    put = LocalBackend.put
    saves = []

    def fills_the_disk(self, obj, filepath):
        saves.append(filepath)
        if len(saves) < 2:
            return put(self, obj, filepath)
        with open(filepath, 'wb') as f:  # half the checkpoint, then no room
            f.write(obj[:len(obj) // 2])
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(LocalBackend, 'put', fills_the_disk)
    args = ['--work-dir', work_dir, '--cfg-options', *data_options(mini_voc, 4)]
    out = tool_here('tools/train.py', DLV3, *args)
    path = osp.join(work_dir, 'iter_4.pth')
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith(f'error: disk full writing {path} (')
    assert 'Traceback' not in out.stderr
    assert not osp.exists(path)  # not left cut
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')

    monkeypatch.setattr(LocalBackend, 'put', put)  # space again
    out = tool_here('tools/train.py', DLV3, '--resume', *args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'train: 2 of 4 iterations already done, 2 to go' in out.stdout + out.stderr
    assert load_local_checkpoint(path)['meta']['iter'] == 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_tools_close_the_process_group_and_free_the_ddp_model_before_exit(tmp_path):
    # Gloo threads left to the interpreter's exit abort it now and then; the DDP model in a
    # reference cycle (as in the Runner) holds the group until the cycle is collected.
    def main():
        dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0,
                                world_size=1)
        holder = {'model': torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))}
        holder['self'] = holder
        holder['model'](torch.ones(1, 2)).sum().backward()
        models.append(weakref.ref(holder['model']))
        raise FileNotFoundError('data folder x not found: set data_root')

    models = []
    with pytest.raises(SystemExit) as e:
        run_main(main)
    assert e.value.code == 1
    assert not dist.is_initialized()
    assert models[0]() is None
    close_distributed()  # nothing to close: a no-op


def test_class_count_mismatch_names_the_config(mini_voc, tmp_path):
    out = run_tool('tools/train.py', DLV3, '--work-dir', str(tmp_path / 'bad'), '--cfg-options',
                   *data_options(mini_voc, 2), 'model.decode_head.num_classes=10')
    assert out.returncode != 0
    message = (r'config \S*deeplabv3plus_r18-tiny\S*\.py: .*model\.decode_head\.num_classes=10'
               r', but dataset PseudoLabelDataset has 21 classes')
    assert re.search(message, out.stderr), out.stderr[-3000:]
