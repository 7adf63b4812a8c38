"""Seed post-processing in a pool of forked CPU workers: the same seed and CAM files as in the
model's process, in any worker count, for every seeder."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT
from mmengine.config import Config
from test_seed_jobs import (
    PIPELINE,
    TINY,
    folder_bytes,
    small_voc,  # noqa: F401 (fixture)
    write_sam_masks,
)

from wsss.datasets import VOC12Dataset
from wsss.evaluation import SeedWriter
from wsss.io.cams import load_cams
from wsss.registry import MODELS


@pytest.mark.parametrize('seeder', ['ArgmaxSeeder', 'CRFSeeder', 'SAMSSeeder'])
def test_pooled_writes_equal_the_model_process_writes_in_any_worker_count(small_voc, tmp_path,
                                                                          seeder):
    if seeder == 'CRFSeeder':
        pytest.importorskip('pydensecrf')
    dataset = VOC12Dataset(data_root=small_voc, split='train', pipeline=PIPELINE)
    cfg = Config.fromfile(osp.join(ROOT, TINY)).model
    cfg.seeder = dict(type=seeder)
    if seeder == 'SAMSSeeder':
        cfg.seeder.mask_dir = str(tmp_path / 'masks')
        write_sam_masks(dataset, cfg.seeder.mask_dir)
    data = [dataset[i] for i in range(len(dataset))]
    meta = dict(classes=dataset.metainfo['classes'])

    def run(defer: bool, workers: int) -> str:
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg, defer_seeding=defer))
        out = str(tmp_path / f'{defer}_{workers}')
        writer = SeedWriter(seed_dir=osp.join(out, 'seeds'), cam_dir=osp.join(out, 'cams'),
                            workers=workers)
        writer.dataset_meta = meta
        for batch in (data[:3], data[3:]):
            with torch.no_grad():
                samples = model.predict([d['inputs'] for d in batch],
                                        [d['data_samples'] for d in batch])
            writer.process(None, [s.to_dict() for s in samples])
        assert writer.evaluate(len(data)) == {'seeds/written': 4, 'seeds/failed': 0}
        return out

    reference = run(defer=False, workers=0)  # the seeder in the model, the writes in-process
    seeds = folder_bytes(osp.join(reference, 'seeds'))
    assert len(seeds) == 8
    for workers in (0, 1, 3):
        out = run(defer=True, workers=workers)
        assert folder_bytes(osp.join(out, 'seeds')) == seeds, workers
        for name in os.listdir(osp.join(reference, 'cams')):
            ids, cams = load_cams(osp.join(out, 'cams', name))
            ref_ids, ref_cams = load_cams(osp.join(reference, 'cams', name))
            np.testing.assert_array_equal(ids, ref_ids)
            np.testing.assert_array_equal(cams, ref_cams)
