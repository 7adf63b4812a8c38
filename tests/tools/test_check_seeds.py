"""tools/check_seeds.py on hand-made seeds of the tiny VOC tree: good seeds pass, wrong values,
sizes and missing files are each reported."""
import os.path as osp

import numpy as np
from test_seeds import write_seeds

from wsss.io.seeds import write_label_map


def test_check_seeds_reports_every_kind_of_problem(voc_root, tmp_path, tool_here):
    seed_dir = str(tmp_path / 'seeds')
    write_seeds(seed_dir)
    good = tool_here('tools/check_seeds.py', seed_dir, '--dataset', 'voc12', '--data-root',
                    voc_root, '--split', 'train')
    assert good.returncode == 0, good.stdout + good.stderr
    assert '2 images, 2 good seeds' in good.stdout

    bad = np.zeros((6, 8), np.uint8)
    bad[3, 3] = 37
    write_label_map(osp.join(seed_dir, 'img_a.png'), bad)
    write_label_map(osp.join(seed_dir, 'img_b.png'), np.zeros((6, 9), np.uint8))
    out = tool_here('tools/check_seeds.py', seed_dir, '--dataset', 'voc12', '--data-root',
                   voc_root, '--split', 'train')
    assert out.returncode == 1
    assert 'values: 1' in out.stdout and 'img_a.png: values [37]' in out.stdout
    assert 'size: 1' in out.stdout and 'img_b.png: size 9x6 (WxH) differs' in out.stdout

    (tmp_path / 'seeds' / 'img_b.png').unlink()
    out = tool_here('tools/check_seeds.py', seed_dir, '--dataset', 'voc12', '--data-root',
                   voc_root, '--split', 'train')
    assert out.returncode == 1 and 'missing: 1' in out.stdout
