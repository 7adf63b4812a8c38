"""docs/adding_a_method.md: its example seeder and config are the files in examples/, they run,
and the seeder computes the note's hand-worked case."""
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, write_image

from wsss.apis import init_stage_one, load_config, seed_image

EXAMPLES = osp.join(ROOT, 'examples')
NOTE = osp.join(ROOT, 'docs', 'adding_a_method.md')
CONFIG = osp.join(EXAMPLES, 'clip-es_two-threshold_vit-b16_voc12-train.py')
TINY = osp.join(ROOT, 'configs/clip_es/clip-es_vit-tiny_minivoc.py')


@pytest.fixture(scope='module')
def seeder_module():
    sys.path.insert(0, EXAMPLES)
    try:
        import two_threshold_seeder
        yield two_threshold_seeder
    finally:
        sys.path.remove(EXAMPLES)


def test_the_note_shows_the_example_files_verbatim():
    with open(NOTE) as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), flags=re.S)
    for name in ('two_threshold_seeder.py', osp.basename(CONFIG)):
        with open(osp.join(EXAMPLES, name)) as f:
            assert f.read() in blocks, f'docs/adding_a_method.md no longer shows examples/{name}'


def test_hand_worked_case(seeder_module):
    seeder = seeder_module.TwoThresholdSeeder(low=0.25, high=0.5)
    cams = torch.tensor([[[0.875, 0.375, 0.125, 0], [0.125, 0.75, 0, 0.25]],
                         [[0.125, 0.5, 0.375, 0], [0.75, 0.75, 0.1875, 0]]])
    seed, confidence = seeder(cams, [3, 7], {})
    np.testing.assert_array_equal(seed, [[3, 7, 255, 0], [7, 3, 0, 255]])
    np.testing.assert_array_equal(confidence, [[0.875, 0.5, 0, 1], [0.75, 0.75, 0.8125, 0]])
    assert seed.dtype == np.uint8 and confidence.dtype == np.float32
    empty, conf = seeder(torch.zeros(0, 2, 3), [], {})
    assert (empty == 0).all() and (conf == 1).all()
    with pytest.raises(ValueError, match='model.seeder.low'):
        seeder_module.TwoThresholdSeeder(low=0.7, high=0.6)


def test_config_runs_the_seeder_through_the_cam_model(seeder_module, tmp_path):
    cfg = load_config(CONFIG)  # imports the example through custom_imports
    assert cfg.model.seeder == dict(type='TwoThresholdSeeder', low=0.3, high=0.6)
    assert cfg.model.type == 'CLIPCAMModel' and cfg.model.dataset == 'voc12'
    model = init_stage_one(TINY, cfg_options={
        'model.seeder': dict(_delete_=True, **cfg.model.seeder)})
    assert type(model.seeder).__name__ == 'TwoThresholdSeeder'
    path = str(tmp_path / 'portrait.jpg')
    write_image(path, 80, 48)
    result = seed_image(model, path, ['cat', 'dog'])
    best = result.cams.max(axis=0)
    winner = np.array(result.class_ids)[result.cams.argmax(axis=0)]
    expected = np.where(best >= 0.6, winner, np.where(best < 0.3, 0, 255))
    np.testing.assert_array_equal(result.seed, expected)
    assert {0, 255, *result.class_ids} <= set(np.unique(result.seed).tolist())  # every outcome


def test_cfg_options_custom_imports_import_a_users_module(tmp_path, monkeypatch):
    """--cfg-options custom_imports.imports=[...] imports as a config file's custom_imports does;
    a module that is not there is an ImportError (a user's error: one line)."""
    import argparse
    (tmp_path / 'own_hook_for_cfg_options.py').write_text('LOADED = True\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    args = argparse.Namespace(work_dir=None, launcher='none', local_rank=0, cfg_options={
        'custom_imports.imports': ['own_hook_for_cfg_options']})
    try:
        assert 'own_hook_for_cfg_options' not in sys.modules
        cfg = load_config(TINY, args)
        assert sys.modules['own_hook_for_cfg_options'].LOADED
        assert cfg.custom_imports.imports == ['own_hook_for_cfg_options']
    finally:
        sys.modules.pop('own_hook_for_cfg_options', None)
    args.cfg_options = {'custom_imports.imports': ['no_such_module_here']}
    with pytest.raises(ImportError, match='no_such_module_here'):
        load_config(TINY, args)
