"""tools/run_pipeline.py: every step in order, finished steps skipped, a killed step resumed with
the same outputs; on the instant-test FMA-WSSS pipeline, i.e. the whole coarse-to-fine chain
through the tools (SAM masks, both prompt stages, both seed rounds) and stage two. Its parts, in
process: tests/unit/apis/test_pipeline_steps.py."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, hold_options, kill_when_written
from mmengine.config import Config

from wsss.datasets import VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.seeds import read_label_map

PIPELINE = osp.join(ROOT, 'configs/pipelines/fma-wsss_tiny_minivoc.py')
STEPS = ['sam_masks', 'cls_prompts', 'coarse_seeds', 'coarse_seed_eval', 'seg_prompts',
         'fine_seeds', 'fine_seed_eval', 'stage_two', 'stage_two_test']
# Short schedules; one image per fine-seed batch, so that the hold lands between two seeds.
SHORT = ['steps.cls_prompts.cfg_options.train_cfg.max_iters=2',
         'steps.seg_prompts.cfg_options.train_cfg.max_iters=2',
         'steps.stage_two.cfg_options.train_cfg.max_iters=4',
         'steps.stage_two.cfg_options.train_cfg.val_interval=4',
         'steps.fine_seeds.cfg_options.test_dataloader.batch_size=1']


def hold_file(work_dir: str) -> str:
    return work_dir + '.hold'


def pipeline_command(work_dir: str, config: str = PIPELINE) -> list:
    """The pipeline, short, its fine-seed step held after one image while hold_file exists."""
    return [sys.executable, osp.join(ROOT, 'tools/run_pipeline.py'), config, '--work-dir',
            work_dir, '--cfg-options', *SHORT,
            *hold_options(hold_file(work_dir), 1, 'steps.fine_seeds.cfg_options.')]


def run(cwd: str, work_dir: str, config: str = PIPELINE, env: dict = None) -> str:
    out = subprocess.run(pipeline_command(work_dir, config), cwd=cwd, capture_output=True,
                         text=True, timeout=900, env=dict(os.environ, **(env or {})))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def summary_rows(log: str) -> dict:
    """step -> (status, mIoU) from the closing table."""
    rows = {}
    for line in log.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if len(cells) == 5 and cells[0] in STEPS:
            rows[cells[0]] = (cells[2], cells[4])
    return rows


def read_seeds(seed_dir: str) -> dict:
    out = {}
    for name in sorted(os.listdir(seed_dir)):
        with open(osp.join(seed_dir, name), 'rb') as f:
            out[name] = f.read()
    return out


def kill_inside_fine_seeds(cwd: str, work_dir: str) -> int:
    """Start the pipeline, SIGKILL it (and its tool) once the fine-seed step has written a seed;
    returns how many seeds were written."""
    seed_dir = osp.join(work_dir, 'fine_seeds/seeds')
    kill_when_written(pipeline_command(work_dir), seed_dir, 1, hold_file(work_dir), cwd=cwd,
                      group=True)
    return len([n for n in os.listdir(seed_dir) if n.endswith('_conf.png')])


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    """cwd with data/mini_voc (the configs' data root) and a pipeline run that was killed inside
    its fine-seed step, then run again to the end."""
    cwd = str(tmp_path_factory.mktemp('pipeline'))
    make_synthetic_voc(osp.join(cwd, 'data/mini_voc'), (('train', 6), ('val', 2)))
    work_dir = osp.join(cwd, 'work_dirs', 'a')
    written = kill_inside_fine_seeds(cwd, work_dir)
    killed = {name: osp.isfile(osp.join(work_dir, name, 'done.json')) for name in STEPS}
    log = run(cwd, work_dir)
    return cwd, work_dir, log, written, killed


def test_every_step_runs_in_order_and_reports(tree):
    cwd, work_dir, log, _, _ = tree
    rows = summary_rows(log)
    assert list(rows) == STEPS
    for name in STEPS:
        assert osp.isfile(osp.join(work_dir, name, 'done.json')), name
    assert [s for s in STEPS if rows[s][1]] == ['coarse_seed_eval', 'fine_seed_eval',
                                                 'stage_two_test']
    assert len(os.listdir(osp.join(work_dir, 'sam_masks/masks'))) == 6
    assert len([n for n in os.listdir(osp.join(work_dir, 'fine_seeds/seeds'))
                if not n.endswith('_conf.png')]) == 6
    assert os.listdir(osp.join(work_dir, 'fine_seeds/vis'))  # overlay pictures
    assert os.listdir(osp.join(work_dir, 'stage_two_test/vis'))
    with open(osp.join(work_dir, 'seg_prompts/done.json')) as f:
        assert json.load(f)['output'] == osp.join(work_dir, 'seg_prompts/iter_2.pth')
    dataset = VOC12Dataset(data_root=osp.join(cwd, 'data/mini_voc'), split='train')
    for i in range(len(dataset)):  # fine seeds: the image's size, only its labelled classes
        info = dataset.get_data_info(i)
        seed = read_label_map(osp.join(work_dir, 'fine_seeds/seeds', info['img_name'] + '.png'))
        assert seed.shape == read_label_map(info['seg_map_path']).shape
        labelled = {c + 1 for c in np.flatnonzero(info['img_labels'])}
        assert set(np.unique(seed)) <= {0} | labelled
    # each step ran on its own config with the earlier steps' outputs wired in
    seg = Config.fromfile(osp.join(work_dir, 'configs/seg_prompts.py'))
    assert seg.train_dataloader.dataset.seed_dir == osp.join(work_dir, 'coarse_seeds/seeds')
    assert seg.train_cfg.max_iters == 2
    fine = Config.fromfile(osp.join(work_dir, 'configs/fine_seeds.py'))
    assert fine.load_from == osp.join(work_dir, 'seg_prompts/iter_2.pth')
    assert fine.model.seeder.mask_dir == osp.join(work_dir, 'sam_masks/masks')
    # the table's numbers are the steps' own
    with open(osp.join(work_dir, 'stage_two_test/metrics.json')) as f:
        val = json.load(f)['mIoU']
    with open(osp.join(work_dir, 'fine_seed_eval/metrics.json')) as f:
        seed = json.load(f)['mIoU']
    assert rows['stage_two_test'][1] == f'{val:.2f}'
    assert f'val mIoU (stage_two_test): {val:.2f}' in log
    assert f'seed mIoU (fine_seed_eval): {seed:.2f}' in log


def test_console_is_short_names_every_step_and_links_the_reports(tree):
    _, work_dir, log, _, _ = tree
    lines = log.splitlines()
    assert len(lines) < 150, log
    for k, name in enumerate(STEPS, 1):
        assert f'step {k}/{len(STEPS)} {name}' in log, name
    assert '\r' not in log and 'System environment' not in log and 'Config:' not in log
    # mmengine's dumps are in the steps' log files
    logs = glob.glob(osp.join(work_dir, 'stage_two', '*', '*.log'))
    assert any('System environment' in open(f).read() for f in logs)
    for step in ('coarse_seed_eval', 'fine_seed_eval', 'stage_two_test'):
        assert osp.isfile(osp.join(work_dir, step, 'per_image.csv')), step
    assert len(os.listdir(osp.join(work_dir, 'stage_two_test/pred'))) == 2
    for kind in ('seeds', 'stage_two'):
        page = osp.join(work_dir, 'report', kind, 'index.html')
        assert f'report: {page}' in log
    seeds_page = open(osp.join(work_dir, 'report/seeds/index.html')).read()
    assert 'coarse_seed_eval' in seeds_page and 'fine_seed_eval' in seeds_page


def test_killed_step_resumes_with_the_same_outputs(tree):
    cwd, work_dir, log, written, killed = tree
    assert written == 1, 'the kill should land inside the seed step'
    assert [s for s in STEPS if killed[s]] == STEPS[:STEPS.index('fine_seeds')]
    rows = summary_rows(log)
    assert [rows[s][0] for s in STEPS] == ['skipped'] * 5 + ['ran'] * 4
    assert 'loss_cam' not in log  # the finished prompt training was not redone
    # the resumed step's seeds are those of an uninterrupted run of the same step
    fresh = osp.join(cwd, 'fresh_seeds')
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/generate_seeds.py'),
         osp.join(work_dir, 'configs/fine_seeds.py'), '--seed-dir', fresh, '--no-eval',
         '--work-dir', osp.join(cwd, 'fresh')], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert read_seeds(osp.join(work_dir, 'fine_seeds/seeds')) == read_seeds(fresh)


def test_second_run_skips_every_finished_step(tree):
    cwd, work_dir, first, _, _ = tree
    before = {name: os.path.getmtime(osp.join(work_dir, name, 'done.json')) for name in STEPS}
    start = time.time()
    log = run(cwd, work_dir)
    rows = summary_rows(log)
    assert {status for status, _ in rows.values()} == {'skipped'}
    assert {s: m for s, (_, m) in rows.items()} == {
        s: m for s, (_, m) in summary_rows(first).items()}
    assert before == {name: os.path.getmtime(osp.join(work_dir, name, 'done.json'))
                      for name in STEPS}
    assert 'Iter(' not in log and time.time() - start < 60  # no tool was started
    assert 'changed since it ran' not in log
