"""FMA-WSSS's whole coarse-to-fine chain through the tools, with the tiny instant-test configs on
a generated mini VOC tree: SAM masks, classification prompts, coarse seeds, segmentation prompts,
fine seeds."""
import os
import os.path as osp
import re

import numpy as np
from conftest import run_tool

from wsss.datasets import VOC12Dataset, read_label_map
from wsss.datasets.synthetic import make_synthetic_voc

CFG = 'configs/fma_wsss/fma-{}_vit-tiny{}_minivoc.py'


def ok(out):
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout + out.stderr


def test_coarse_to_fine_chain(tmp_path):
    root = make_synthetic_voc(str(tmp_path / 'mini_voc'), (('train', 4),))
    data = f'test_dataloader.dataset.data_root={root}'
    masks, coarse, fine = (str(tmp_path / d) for d in ('masks', 'coarse', 'fine'))
    ok(run_tool('tools/sam_masks.py', 'configs/sam/sam_tiny_minivoc.py', '--mask-dir', masks,
                '--work-dir', str(tmp_path / 'sam'), '--cfg-options', data))
    assert len(os.listdir(masks)) == 4

    train_opts = [f'train_dataloader.dataset.data_root={root}', 'train_cfg.max_iters=2',
                  'default_hooks.checkpoint.interval=2']
    ok(run_tool('tools/train.py', CFG.format('cls', '_1xb4-20'), '--work-dir',
                str(tmp_path / 'cls'), '--cfg-options', *train_opts))
    log = ok(run_tool('tools/generate_seeds.py', CFG.format('coarse-seeds', ''), '--checkpoint',
                      str(tmp_path / 'cls' / 'iter_2.pth'), '--seed-dir', coarse, '--work-dir',
                      str(tmp_path / 'coarse_work'), '--cfg-options', data,
                      f'model.seeder.mask_dir={masks}'))
    assert re.search(r'seeds/written: 4', log) and re.search(r'mIoU: \d', log)

    seg_opts = [f'train_dataloader.dataset.dataset.data_root={root}',
                f'train_dataloader.dataset.seed_dir={coarse}', 'train_cfg.max_iters=2',
                'default_hooks.checkpoint.interval=2']
    log = ok(run_tool('tools/train.py', CFG.format('seg', '_1xb4-20'), '--work-dir',
                      str(tmp_path / 'seg'), '--cfg-options', *seg_opts))
    assert 'loss_cam' in log
    log = ok(run_tool('tools/generate_seeds.py', CFG.format('fine-seeds', ''), '--checkpoint',
                      str(tmp_path / 'seg' / 'iter_2.pth'), '--seed-dir', fine, '--work-dir',
                      str(tmp_path / 'fine_work'), '--cfg-options', data,
                      f'model.seeder.mask_dir={masks}'))
    assert re.search(r'seeds/written: 4', log)

    dataset = VOC12Dataset(data_root=root, split='train')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        seed = read_label_map(osp.join(fine, info['img_name'] + '.png'))
        labelled = {c + 1 for c in np.flatnonzero(info['img_labels'])}
        assert seed.shape == read_label_map(info['seg_map_path']).shape
        assert set(np.unique(seed)) <= {0} | labelled
