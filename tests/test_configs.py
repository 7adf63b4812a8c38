"""Every config parses and names only registered types; the tiny ones run in the other tests."""
import glob
import os.path as osp

import pytest
from conftest import ROOT
from mmengine.config import Config
from mmengine.registry import Registry

import wsss.registry

CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
REGISTRIES = [r for r in vars(wsss.registry).values() if isinstance(r, Registry)]


def types_in(node):
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield node['type']
        for value in node.values():
            yield from types_in(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from types_in(value)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_types_are_registered(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'wsss'
    unknown = [t for t in set(types_in(cfg.to_dict()))
               if not any(r.get(t) is not None for r in REGISTRIES)]
    assert not unknown, f'{osp.relpath(path, ROOT)}: unregistered types {unknown}'


def test_there_are_configs_for_each_clip_es_split():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'clip-es_vit-b16_voc12-train.py', 'clip-es_vit-b16_crf_voc12-train.py',
            'clip-es_vit-b16_crf_voc12-train-aug.py', 'clip-es_vit-b16_crf_coco14-train.py'} <= names
