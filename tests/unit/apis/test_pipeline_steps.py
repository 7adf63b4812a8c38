"""tools/run_pipeline.py's parts: steps checked before anything runs, the random-weights fallback,
the tool commands and the summary table (the whole chain: tests/e2e/test_pipeline.py)."""
import os.path as osp

import pytest
from conftest import ROOT
from mmengine.config import Config

from wsss.apis.pipeline import (
    PipelineError,
    check_steps,
    format_summary,
    resolve_weights,
    tool_command,
)

QUICKSTART = osp.join(ROOT, 'configs/pipelines/quickstart_fma-wsss_vit-b16_minivoc.py')


def test_quickstart_falls_back_to_random_weights_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv('WSSS_WEIGHTS_DIR', str(tmp_path))
    cfg = Config.fromfile(QUICKSTART)
    cfg.work_dir = str(tmp_path / 'quickstart')
    cfg.pretrained.clip.url = 'http://127.0.0.1:9/ViT-B-16.pt'  # closed port: offline
    logs = []
    random_cfg, random = resolve_weights(cfg, log=logs.append)
    assert random and 'RANDOM WEIGHTS' in logs[0] and 'MEAN NOTHING' in logs[0]
    assert 'ViT-B-16.pt' in logs[0]
    assert random_cfg.work_dir == str(tmp_path / 'quickstart/random_weights')
    assert list(random_cfg.steps) == list(cfg.steps)  # same steps, so the same overrides apply


def test_quickstart_uses_weights_that_are_present(tmp_path, monkeypatch):
    monkeypatch.setenv('WSSS_WEIGHTS_DIR', str(tmp_path))
    for name in ('ViT-B-16.pt', 'sam_vit_b_01ec64.pth'):
        (tmp_path / name).write_bytes(b'weights')
    cfg = Config.fromfile(QUICKSTART)
    cfg.work_dir = 'unused'
    cfg, random = resolve_weights(cfg)
    assert not random
    assert cfg.steps.cls_prompts.cfg_options.model.clip.pretrained == str(tmp_path / 'ViT-B-16.pt')
    assert cfg.steps.fine_seeds.cfg_options.model.clip.pretrained == str(tmp_path / 'ViT-B-16.pt')
    assert cfg.steps.sam_masks.cfg_options.model.sam.checkpoint == str(
        tmp_path / 'sam_vit_b_01ec64.pth')


def test_steps_are_checked_before_anything_runs():
    with pytest.raises(PipelineError, match='tool must be one of'):
        check_steps({'a': dict(tool='nope', config='x.py')})
    with pytest.raises(PipelineError, match="output of 'later'"):
        check_steps({'a': dict(tool='seeds', config='x.py', inputs={'load_from': 'later'}),
                     'later': dict(tool='train', config='y.py')})
    with pytest.raises(PipelineError, match='needs a config'):
        check_steps({'a': dict(tool='train')})


def test_many_gpus_run_each_step_through_torchrun(tmp_path):
    cmd = tool_command('train', 'c.py', str(tmp_path), 'out.pth', gpus=8, show_dir=None)
    assert cmd[1:3] == ['-m', 'torch.distributed.run'] and '--nproc_per_node=8' in cmd
    assert cmd[-2:] == ['--launcher', 'pytorch'] and '--resume' not in cmd
    (tmp_path / 'last_checkpoint').write_text('x')
    assert '--resume' in tool_command('train', 'c.py', str(tmp_path), 'o', 1, None)
    out = str(tmp_path / 'metrics.json')
    pred = ['--out', str(tmp_path / 'pred')]
    test = tool_command('test', 'c.py', str(tmp_path), out, 1, 'vis', checkpoint='w.pth')
    assert test[2:8] == ['c.py', 'w.pth', '--metrics-dir', str(tmp_path), *pred]
    assert '--tta' not in test and '--verbose' not in test
    test = tool_command('test', 'c.py', str(tmp_path), out, 1, None, 'w.pth',
                        test_modes=['tta', 'crf'], verbose=True)
    assert test[6:10] == [*pred, '--tta', '--crf'] and test[-1] == '--verbose'


def test_test_modes_belong_to_test_steps():
    check_steps({'t': dict(tool='test', config='x.py', tta=True, crf=True)})
    with pytest.raises(PipelineError, match="step s: \\['tta'\\] are options of test steps"):
        check_steps({'s': dict(tool='seeds', config='x.py', tta=True)})


def test_summary_table():
    table = format_summary([
        dict(step='seeds', tool='seeds', status='ran', seconds=12.34, miou=None),
        dict(step='seed_eval', tool='eval_seeds', status='skipped', seconds=0.5, miou=70.123),
        dict(step='test', tool='test', status='ran', seconds=3, miou=71.1),
        dict(step='test_ms', tool='test', status='ran', seconds=9, miou=72.346)])
    lines = table.splitlines()
    assert lines[0].split() == ['step', '|', 'tool', '|', 'status', '|', 'time', '|', 'mIoU']
    assert lines[3].split('|')[4].strip() == '70.12'
    assert lines[-3:] == ['seed mIoU (seed_eval): 70.12', 'val mIoU (test): 71.10',
                          'val mIoU (test_ms): 72.35']
