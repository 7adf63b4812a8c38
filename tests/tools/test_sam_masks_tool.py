"""tools/sam_masks.py with a tiny random SAM on a generated VOC tree: one mask file per image,
and a rerun that writes none and ignores a killed run's temporary file."""
import os
import re

import pytest
from test_sam_masks import TINY_CFG

from wsss.datasets.synthetic import make_synthetic_voc
from wsss.io.sam_masks import load_mask_array


@pytest.fixture(scope='module')
def mini_voc(tmp_path_factory) -> str:
    return make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'mini_voc'),
                              (('train', 4), ('val', 1)))


def test_tool_writes_one_file_per_image_and_a_rerun_none(mini_voc, tmp_path, tool_here):
    args = ['tools/sam_masks.py', TINY_CFG, '--work-dir', str(tmp_path), '--cfg-options',
            f'test_dataloader.dataset.data_root={mini_voc}']
    out = tool_here(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r'sam_masks/written: 4\b', out.stdout + out.stderr)
    mask_dir = tmp_path / 'sam_masks'
    names = sorted(os.listdir(mask_dir))
    assert names == [f'train_{i:04d}.json' for i in range(4)]
    stamps = {n: os.stat(mask_dir / n).st_mtime_ns for n in names}
    for name in names:
        assert load_mask_array(str(mask_dir / name)).shape[1:] == (96, 128)
    open(mask_dir / 'train_0000.json.123.tmp', 'w').write('half-written by a killed run')

    out = tool_here(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r'sam_masks/written: 0\b', out.stdout + out.stderr)
    assert sorted(os.listdir(mask_dir)) == names
    assert {n: os.stat(mask_dir / n).st_mtime_ns for n in names} == stamps
