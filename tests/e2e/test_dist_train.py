"""tools/dist_train.sh: a real 2-process gloo run of the tiny DeepLab-v3+ config on a generated
mini VOC tree trains and saves on both ranks."""
import os
import os.path as osp
import subprocess
import sys

from conftest import ROOT
from test_train import DLV3, data_options, free_port, mini_voc  # noqa: F401 (fixture)

from wsss.utils.checkpoint import load_local_checkpoint


def test_two_process_distributed_training(mini_voc, tmp_path):
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), PYTHONUNBUFFERED='1')
    out = subprocess.run(['bash', 'tools/dist_train.sh', DLV3, '2', '--work-dir', work_dir,
                          '--verbose', '--cfg-options', *data_options(mini_voc, 4)],
                         cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert log.count('distributed backend gloo instead of nccl') == 2  # one per rank
    assert load_local_checkpoint(osp.join(work_dir, 'iter_4.pth'))['meta']['iter'] == 4
