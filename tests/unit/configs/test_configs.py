"""Every config parses and names only registered types; the tiny ones run in the other tests."""
import glob
import os.path as osp

import pytest
from conftest import ROOT
from mmengine.config import Config
from mmengine.registry import Registry

import wsss.registry
from wsss.apis.pipeline import check_steps, step_config

ALL = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
PIPELINES = [p for p in ALL if osp.sep + 'pipelines' + osp.sep in p]
CONFIGS = [p for p in ALL if '_base_' not in p and p not in PIPELINES]
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


def check_types(cfg: Config, name: str) -> None:
    assert cfg.default_scope == 'wsss'
    unknown = [t for t in set(types_in(cfg.to_dict()))
               if not any(r.get(t) is not None for r in REGISTRIES)]
    assert not unknown, f'{name}: unregistered types {unknown}'


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_types_are_registered(path):
    check_types(Config.fromfile(path), osp.relpath(path, ROOT))


@pytest.mark.parametrize('path', PIPELINES, ids=[osp.relpath(p, ROOT) for p in PIPELINES])
def test_pipeline_steps_build(path):
    """Each step's config, with its options and inputs merged in, parses and is registered."""
    pipeline = Config.fromfile(path)
    check_steps(pipeline.steps)
    outputs = {name: f'/out/{name}' for name in pipeline.steps}
    for name, step in pipeline.steps.items():
        if step.tool != 'eval_seeds':
            cfg = step_config(step, outputs, '/work')
            check_types(cfg, f'{osp.relpath(path, ROOT)}:{name}')
            for key, source in step.get('inputs', {}).items():  # an input lands where it should
                node = cfg
                for part in key.split('.'):
                    node = node[part]
                assert node == outputs[source], f'{name}: {key}'


def test_there_are_configs_for_each_clip_es_split():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'clip-es_vit-b16_voc12-train.py', 'clip-es_vit-b16_crf_voc12-train.py',
            'clip-es_vit-b16_crf_voc12-train-aug.py',
            'clip-es_vit-b16_crf_coco14-train.py'} <= names
