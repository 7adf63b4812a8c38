"""TF32 on CUDA: an opt-in of the seed job, on in the *_clean configs only."""
import glob
import os.path as osp

import torch
from conftest import ROOT
from mmengine.config import Config

from wsss.apis.pipeline import step_config
from wsss.utils.precision import use_tf32

SEED_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/clip_es/*.py'))
                      + glob.glob(osp.join(ROOT, 'configs/fma_wsss/*seeds*.py')))


def test_tf32_is_on_in_clean_seed_configs_only():
    assert len(SEED_CONFIGS) >= 10
    on = {osp.basename(p) for p in SEED_CONFIGS if Config.fromfile(p).tf32}
    assert on == {'clip-es_vit-b16_crf_voc12-train_clean.py'}
    pipeline = Config.fromfile(osp.join(ROOT, 'configs/pipelines/fma-wsss_vit-b16_voc12_clean.py'))
    outputs = {name: f'/out/{name}' for name in pipeline.steps}
    seeds = {name: step_config(step, outputs, '/work').get('tf32')
             for name, step in pipeline.steps.items() if step.tool == 'seeds'}
    assert seeds == {'coarse_seeds': True, 'fine_seeds': True}
    released = Config.fromfile(osp.join(ROOT, 'configs/pipelines/fma-wsss_vit-b16_voc12.py'))
    assert not any(step_config(step, outputs, '/work').get('tf32') for step in
                   released.steps.values() if step.tool == 'seeds')


def test_use_tf32_switches_cuda_matmul_and_cudnn_on_and_leaves_the_defaults_off():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        use_tf32(False)
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
        use_tf32(True)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
