import numpy as np
import pytest
import torch
from mmengine import DefaultScope
from mmengine.registry import MODELS as ROOT_MODELS

from wsss.registry import DATASETS, MODELS, SEEDERS, TRANSFORMS


def test_default_scope_is_wsss():
    assert DefaultScope.get_current_instance().scope_name == 'wsss'


def test_configs_build_wsss_and_mmseg_types_by_name(voc_root):
    dataset = DATASETS.build(dict(type='VOC12Dataset', data_root=voc_root, split='val'))
    assert len(dataset) == 1
    assert type(TRANSFORMS.build(dict(type='PackWSSSInputs'))).__name__ == 'PackWSSSInputs'
    # an mmseg transform and model through the wsss children, and through mmengine's root
    assert type(TRANSFORMS.build(dict(type='RandomFlip', prob=0.5))).__module__.startswith('mmseg')
    cfg = dict(type='FCNHead', in_channels=4, channels=4, num_classes=3, concat_input=False)
    head = MODELS.build(cfg)
    assert head([torch.zeros(1, 4, 5, 5)]).shape == (1, 3, 5, 5)
    root_head = ROOT_MODELS.build(cfg)  # mmengine's root finds it under the wsss scope
    assert type(root_head) is type(head)


def test_seeders_registry_builds_registered_classes():
    @SEEDERS.register_module(name='_TestArgmaxSeeder', force=True)
    class ArgmaxSeeder:
        def __init__(self, bg: float):
            self.bg = bg

        def __call__(self, cams: np.ndarray) -> np.ndarray:
            return np.concatenate([np.full(cams.shape[1:], self.bg)[None], cams]).argmax(0)

    seeder = SEEDERS.build(dict(type='_TestArgmaxSeeder', bg=0.5))
    cams = np.array([[[0.9, 0.1]], [[0.2, 0.3]]])
    np.testing.assert_array_equal(seeder(cams), [[1, 0]])
    with pytest.raises(KeyError):
        SEEDERS.build(dict(type='NoSuchSeeder'))
