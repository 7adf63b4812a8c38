"""FMA-WSSS stage one with a tiny random CLIP: prompt training lowers the losses, checkpoints hold
only the learned contexts (tools/train.py saving and resuming them: tests/tools)."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss.registry import MODELS

CLS = 'configs/fma_wsss/fma-cls_vit-tiny_1xb4-20_minivoc.py'
SEG = 'configs/fma_wsss/fma-seg_vit-tiny_1xb4-20_minivoc.py'


def build(config: str):
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(osp.join(ROOT, config)).model)


def batch(seeds: bool):
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8, generator=g) for _ in range(3)]
    samples = []
    for i in range(3):
        labels = np.zeros(20, np.uint8)
        labels[[i, 7]] = 1
        sample = SegDataSample(metainfo=dict(img_labels=labels))
        if seeds:
            seed = torch.zeros(1, 64, 64, dtype=torch.long)
            seed[:, :32, :32] = i + 1
            seed[:, 32:, 32:] = 8
            seed[:, :4] = 255
            sample.gt_sem_seg = PixelData(data=seed)
        samples.append(sample)
    return images, samples


@pytest.mark.parametrize('config,loss_name', [(CLS, 'loss_contrastive'), (SEG, 'loss_cam')])
def test_prompt_training_lowers_the_loss_and_touches_only_contexts(config, loss_name):
    model = build(config)
    images, samples = batch(seeds=config == SEG)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['prompts.ctx']
    optimizer = torch.optim.SGD([model.prompts.ctx], lr=0.5 if config == CLS else 50.0)
    losses = []
    for _ in range(8):
        loss = model.loss(images, samples)[loss_name]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.9, losses
    assert all(p.grad is None for n, p in model.named_parameters() if n != 'prompts.ctx')


def test_checkpoints_hold_only_what_is_learned():
    model = build(SEG)
    state = model.state_dict()
    assert set(state) == {'prompts.ctx'}
    fresh = build(SEG)
    fresh.prompts.ctx.data.zero_()
    fresh.load_state_dict(state)  # strict: the frozen CLIP is restored from the model itself
    torch.testing.assert_close(fresh.prompts.ctx, model.prompts.ctx)


def test_a_batch_without_labelled_pixels_still_backpropagates():
    model = build(SEG)
    images, samples = batch(seeds=True)
    for sample in samples:
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, 64, 64, dtype=torch.long))
    loss = model.loss(images, samples)['loss_cam']
    loss.backward()
    assert loss.item() == 0 and model.prompts.ctx.grad is not None
