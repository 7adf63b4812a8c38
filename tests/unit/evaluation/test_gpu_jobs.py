"""Long jobs on GPUs: ranks gather through files, the runtimes' timeouts, the CPU workers'
scheduling beside a GPU, size batches ordered by label count."""
import os
import os.path as osp
import threading
import time

import pytest
import torch
from mmengine.config import Config

from wsss.evaluation import rank_collect
from wsss.evaluation.rank_collect import RANK_DIR, clear_rank_files, gather_by_files
from wsss.utils.workers import BoundedPool


def as_rank(monkeypatch, rank: int, world: int) -> None:
    monkeypatch.setattr(rank_collect, 'get_dist_info', lambda: (rank, world))
    monkeypatch.setattr(rank_collect, 'is_main_process', lambda: rank == 0)
    monkeypatch.setattr(rank_collect, 'barrier', lambda: None)


def test_an_early_rank_waits_for_the_files_of_the_others(tmp_path, monkeypatch):
    """Rank 1 finishes first and waits, outside any collective, until rank 0's file appears;
    both get every rank's results, rank 0's first; rank 0 cleans up."""
    out = str(tmp_path)
    meet = threading.Barrier(2, timeout=5)  # the two ranks' barrier
    as_rank(monkeypatch, 1, 2)
    monkeypatch.setattr(rank_collect, 'barrier', meet.wait)
    got = {}
    late = threading.Thread(target=lambda: got.update(
        r1=gather_by_files([('written', 'b')], out, poll_s=0.01)))
    late.start()
    time.sleep(0.2)
    assert late.is_alive()  # still waiting for rank 0
    assert os.listdir(osp.join(out, RANK_DIR)) == ['2-1.pkl']
    as_rank(monkeypatch, 0, 2)
    monkeypatch.setattr(rank_collect, 'barrier', meet.wait)
    r0 = gather_by_files([('written', 'a'), ('failed', 'x', 'bad')], out, poll_s=0.01)
    late.join(5)
    assert r0 == [('written', 'a'), ('failed', 'x', 'bad'), ('written', 'b')]
    assert got['r1'] == r0
    assert not osp.exists(osp.join(out, RANK_DIR))


def test_one_process_gathers_its_own_results_without_files(tmp_path, monkeypatch):
    as_rank(monkeypatch, 0, 1)
    assert gather_by_files([1, 2], str(tmp_path)) == [1, 2]
    assert os.listdir(tmp_path) == []


def test_rank_files_of_a_killed_run_are_removed_when_the_writer_is_built(tmp_path, monkeypatch):
    folder = tmp_path / RANK_DIR
    folder.mkdir()
    (folder / '2-0.pkl').write_bytes(b'stale')
    as_rank(monkeypatch, 1, 2)
    clear_rank_files(str(tmp_path))
    assert os.listdir(folder) == ['2-0.pkl']  # only rank 0 removes
    as_rank(monkeypatch, 0, 2)
    clear_rank_files(str(tmp_path))
    assert os.listdir(folder) == []


def test_seed_and_sam_runtimes_give_collectives_hours():
    for name, hours in (('seed_runtime', 3), ('sam_runtime', 3), ('tuss_runtime', 3),
                        ('default_runtime', 0.5)):
        cfg = Config.fromfile(f'configs/_base_/{name}.py')
        assert cfg.env_cfg.dist_cfg == dict(backend='nccl', timeout=int(hours * 3600)), name


@pytest.mark.skipif(not hasattr(os, 'SCHED_IDLE'), reason='Linux scheduling classes')
@pytest.mark.parametrize('cuda,policy', [(False, 'SCHED_IDLE'), (True, 'SCHED_OTHER')])
def test_pool_workers_yield_to_a_cpu_model_but_not_beside_a_gpu(cuda, policy, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    pool = BoundedPool(workers=1)
    pool.submit(os.sched_getscheduler, 0)
    assert pool.close() == [getattr(os, policy)]


def test_size_batches_put_images_with_as_many_labels_together(tmp_path):
    """Same size: fewer labels first (a batch's backward runs once per class slot of its image
    with the most labels); a smaller size still comes first whatever its labels."""
    from conftest import write_image

    from wsss.datasets import ImageFolderDataset, PendingSeedSampler
    labels = {'a.jpg': 'cat, dog, bird', 'b.jpg': 'cat', 'c.jpg': 'dog, bird', 'd.jpg': 'bird',
              'e.jpg': 'cat, dog, bird'}
    for name in labels:
        write_image(str(tmp_path / 'img' / name), 30 if name == 'e.jpg' else 40, 60)
    (tmp_path / 'labels.csv').write_text(''.join(f'{n}, {c}\n' for n, c in labels.items()))
    dataset = ImageFolderDataset(img_dir=str(tmp_path / 'img'),
                                 labels_file=str(tmp_path / 'labels.csv'),
                                 classes=['cat', 'dog', 'bird'])
    order = list(PendingSeedSampler(dataset, str(tmp_path / 'seeds'), group_by_size=True))
    names = [dataset.get_data_info(i)['img_name'] for i in order]
    assert names == ['e', 'b', 'd', 'c', 'a']


def test_the_vit_cast_once_to_bf16_gives_cams_close_to_fp32(monkeypatch):
    """Tiny random CLIP, CAM + CAA: largest difference 9.9e-3 (autocast bf16: 1.2e-2)."""
    from test_batched_cams import TINY, predicted_cams

    from wsss.registry import MODELS
    fp32, _ = predicted_cams(monkeypatch, caa=True)
    bf16, _ = predicted_cams(monkeypatch, caa=True, encoder_dtype='bf16')
    diff = max(float((a - b).abs().max()) for a, b in zip(fp32, bf16) if a.numel())
    assert 0 < diff < 0.1  # bf16 keeps 8 mantissa bits: a different, close map
    assert all(c.dtype == torch.float32 for c in bf16)
    model = MODELS.build(dict(Config.fromfile(TINY).model, encoder_dtype='bf16'))
    assert {p.dtype for p in model.encoder.parameters()} == {torch.bfloat16}
    assert model.clip.token_embedding.weight.dtype == torch.float32  # the text tower: fp32
