"""The relevancy model lists an image that runs out of memory in failed.json and goes on."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmseg.structures import SegDataSample

from wsss.apis import init_stage_one

TINY = osp.join(ROOT, 'configs/relevancy/relevancy_vit-tiny_minivoc.py')


def sample(name: str) -> SegDataSample:
    labels = np.zeros(20, np.uint8)
    labels[7] = 1
    return SegDataSample(metainfo=dict(img_path=f'{name}.jpg', img_labels=labels,
                                       ori_shape=(32, 48)))


def test_an_image_out_of_memory_is_one_failed_entry(monkeypatch):
    model = init_stage_one(TINY)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB')

    monkeypatch.setattr(model, 'image_cams', out_of_memory)
    image = torch.zeros(3, 32, 48, dtype=torch.uint8)
    out = model.predict([image, image], [sample('a'), sample('b')])
    assert [s.metainfo['load_error'] for s in out] == [
        f"{n}.jpg: out of memory at 48x32 (WxH); lower the image's size (this pipeline keeps "
        'it: resize the image beforehand) to seed it on this machine' for n in 'ab']
    assert all('pred_sem_seg' not in s for s in out)
    monkeypatch.setattr(model, 'image_cams', lambda *a: 1 / 0)  # a bug still stops the job
    with pytest.raises(ZeroDivisionError):
        model.predict([image], [sample('c')])
