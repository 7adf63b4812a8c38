"""Seed jobs through tools/generate_seeds.py: an undecodable image is listed and the others
seeded (--strict stops at it), and a user's mistake is one line naming the setting."""
import json
import os
import os.path as osp
import runpy
import shutil
import sys

import pytest
from conftest import ROOT
from test_seed_jobs import TINY, small_voc  # noqa: F401 (fixture)


def options(root: str) -> list:
    return ['--cfg-options', f'test_dataloader.dataset.data_root={root}']


def run_seed_tool(monkeypatch, *args: str) -> int:
    """tools/generate_seeds.py in this process (the imports are done: seconds, not a minute);
    its exit code."""
    monkeypatch.setattr(sys, 'argv', ['generate_seeds.py', *args])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(osp.join(ROOT, 'tools/generate_seeds.py'), run_name='__main__')
    return exit_info.value.code


def test_seed_job_with_an_undecodable_image_writes_the_others_and_lists_it(
        small_voc, tmp_path, monkeypatch, capsys):
    root = str(tmp_path / 'voc')
    shutil.copytree(small_voc, root)
    bad = osp.join(root, 'JPEGImages', 'train_0001.jpg')
    open(bad, 'wb').write(b'\xff\xd8 this is no JPEG')
    work = str(tmp_path / 'work')
    assert run_seed_tool(monkeypatch, TINY, '--work-dir', work, '--no-eval', *options(root)) == 1
    assert f'{bad}: cannot decode image {bad}' in capsys.readouterr().out
    assert json.load(open(osp.join(work, 'failed.json'))) == [
        dict(file=bad, reason=f'cannot decode image {bad}')]
    seeds = sorted(os.listdir(osp.join(work, 'seeds')))
    assert seeds == [f'train_{i:04d}{s}.png' for i in (0, 2, 3) for s in ('', '_conf')]

    assert run_seed_tool(monkeypatch, TINY, '--work-dir', str(tmp_path / 'strict'), '--strict',
                         *options(root)) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f'error: cannot decode image {bad} (--strict stops at the first bad image)')


@pytest.mark.parametrize('mistake', ['config', 'checkpoint', 'data'])
def test_a_users_mistake_is_one_line_naming_the_setting(mistake, tmp_path, monkeypatch, capsys):
    config, extra = osp.join(ROOT, TINY), []
    if mistake == 'config':
        config = str(tmp_path / 'nope.py')
        expected = f'error: config {config} not found'
    elif mistake == 'checkpoint':
        extra = ['--checkpoint', str(tmp_path / 'nope.pth')]
        expected = f'error: checkpoint {tmp_path}/nope.pth not found: set load_from (--checkpoint)'
    else:
        extra = options(str(tmp_path / 'nowhere'))
        expected = (f'error: data folder {tmp_path}/nowhere not found: set '
                    'test_dataloader.dataset.data_root (--data-root PATH)')
    assert run_seed_tool(monkeypatch, config, '--work-dir', str(tmp_path / 'work'), *extra) == 1
    assert capsys.readouterr().err.strip() == expected
