"""tools/eval_seeds.py on hand-made seeds and CAMs of the tiny VOC tree (conftest.voc_root): the
mIoU and metric files, a missing seed, the background-power search on CAM files."""
import json
import os
import os.path as osp

import pytest
from test_eval_seeds import HAND_MIOU, write_hand_cams, write_hand_seeds


def test_eval_seeds_tool(voc_root, tmp_path, tool_here):
    seed_dir = str(tmp_path / 'seeds')
    write_hand_seeds(seed_dir)
    out = str(tmp_path / 'numbers.json')
    args = ('tools/eval_seeds.py', seed_dir, '--dataset', 'voc12', '--data-root', voc_root,
            '--split', 'train')
    result = tool_here(*args, '--out', out)
    assert result.returncode == 0, result.stderr
    assert f'mIoU: {100 * HAND_MIOU:.2f}' in result.stdout
    assert 'mIoU: 83.93' in result.stdout
    with open(out) as f:
        numbers = json.load(f)
    assert numbers['mIoU'] == pytest.approx(100 * HAND_MIOU)
    assert numbers['per_class']['cat']['recall'] == pytest.approx(100 * 6 / 9)
    assert numbers['predictions'] == seed_dir
    with open(seed_dir + '_eval/metrics.json') as f:  # the default --out-dir
        assert json.load(f) == numbers
    with open(seed_dir + '_eval/per_image.csv') as f:
        assert [line.split(',')[0] for line in f] == ['image', 'img_a', 'img_b']

    os.remove(osp.join(seed_dir, 'img_b.png'))
    result = tool_here(*args)
    assert result.returncode != 0
    assert '1 of 2 seeds are missing' in result.stderr and 'img_b.png' in result.stderr


def test_eval_seeds_tool_searches_power_on_cams(voc_root, tmp_path, tool_here):
    cam_dir = str(tmp_path / 'cams')
    write_hand_cams(cam_dir)
    out = str(tmp_path / 'numbers.json')
    result = tool_here('tools/eval_seeds.py', cam_dir, '--dataset', 'voc12', '--data-root',
                      voc_root, '--split', 'train', '--powers', '1', '2', '3', '--out', out)
    assert result.returncode == 0, result.stderr
    assert 'best background power: 2\n' in result.stdout
    assert 'mIoU: 100.00' in result.stdout
    with open(out) as f:
        numbers = json.load(f)
    assert numbers['best_power'] == 2
    assert numbers['miou_by_power']['1'] == pytest.approx(100 * (53 / 62 + 2) / 4)
