"""Mask2Former (mmseg's, with mmdet's head parts): the tiny config trains on tiny seeds, saves,
resumes where it stopped and is scored on the GT, also with multi-scale + flip and the CRF."""
import importlib.util
import os.path as osp

import numpy as np
import torch
from conftest import ROOT
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from wsss.apis.test_modes import use_crf, use_tta
from wsss.datasets.synthetic import make_synthetic_voc

TINY_M2F = 'configs/mask2former/mask2former_swin-tiny_1xb2-20_minivoc-64x64.py'


class Iterations(Hook):
    """The weights a training run starts from and the iterations it goes through."""

    def __init__(self) -> None:
        self.seen = []
        self.start = {}

    def before_train(self, runner) -> None:
        self.start = {k: v.clone() for k, v in runner.model.state_dict().items()}

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.seen.append(runner.iter)


def tiny_cfg(root: str, work_dir: str, iters: int) -> Config:
    loaded = Config.fromfile(osp.join(ROOT, TINY_M2F))
    cfg = Config(loaded.to_dict(), filename=loaded.filename, format_python_code=False)
    cfg.train_dataloader.dataset.dataset.data_root = root
    cfg.train_dataloader.dataset.seed_dir = osp.join(root, 'SegmentationClass')
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = root
    cfg.train_cfg.update(max_iters=iters, val_interval=4)  # validated once, after resuming
    cfg.param_scheduler[0].end = 4
    cfg.default_hooks.checkpoint.interval = 2
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    return cfg


def test_tiny_mask2former_trains_saves_resumes_and_is_scored(tmp_path):
    root = make_synthetic_voc(str(tmp_path / 'voc'), (('train', 4), ('val', 2)))
    work_dir = str(tmp_path / 'work')
    first = Runner.from_cfg(tiny_cfg(root, work_dir, iters=2))
    first.train()
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert np.isfinite(first.message_hub.get_scalar('train/loss').current())
    for key in ('decode.loss_cls', 'decode.loss_mask', 'decode.loss_dice'):
        assert np.isfinite(first.message_hub.get_scalar(f'train/{key}').current()), key

    cfg = tiny_cfg(root, work_dir, iters=4)
    cfg.resume = True
    second = Runner.from_cfg(cfg)
    iterations = Iterations()
    second.register_hook(iterations)
    second.train()
    assert iterations.seen == [2, 3]  # it went on from the saved iteration and weights
    saved = torch.load(osp.join(work_dir, 'iter_2.pth'), weights_only=False)['state_dict']
    assert saved.keys() == iterations.start.keys()
    assert all(torch.equal(saved[k], iterations.start[k]) for k in saved)
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    assert 0 <= second.message_hub.get_scalar('val/mIoU').current() <= 100

    cfg = tiny_cfg(root, str(tmp_path / 'test'), iters=4)
    cfg.load_from = osp.join(work_dir, 'iter_4.pth')
    use_tta(cfg)  # multi-scale + flip: mmseg's SegTTAModel over the Mask2Former
    assert 0 <= Runner.from_cfg(cfg).test()['mIoU'] <= 100
    if importlib.util.find_spec('pydensecrf') is None:
        return
    use_crf(cfg, multi_view=True)
    assert cfg.model.probs == 'normalize'  # Mask2Former's scores are not logits
    assert 0 <= Runner.from_cfg(cfg).test()['mIoU'] <= 100
