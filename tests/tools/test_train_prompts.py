"""tools/train.py on FMA-WSSS's tiny prompt-training config: it saves, and resumes where it
stopped with only the learned contexts in the checkpoint."""
import os.path as osp

from conftest import run_tool
from test_fma import CLS

from wsss.datasets.synthetic import make_synthetic_voc
from wsss.utils.checkpoint import load_local_checkpoint


def test_train_tool_saves_and_resumes_prompt_training(tmp_path):
    root = make_synthetic_voc(str(tmp_path / 'mini_voc'), (('train', 4),))
    work = str(tmp_path / 'work')
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            'default_hooks.checkpoint.interval=2']
    out = run_tool('tools/train.py', CLS, '--work-dir', work, *opts, 'train_cfg.max_iters=2')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'no CUDA: training in fp32 instead of AMP' in out.stdout + out.stderr
    out = run_tool('tools/train.py', CLS, '--work-dir', work, '--resume', *opts,
                   'train_cfg.max_iters=4')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'train: 2 of 4 iterations already done, 2 to go' in out.stdout
    ckpt = load_local_checkpoint(osp.join(work, 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4 and set(ckpt['state_dict']) == {'prompts.ctx'}
