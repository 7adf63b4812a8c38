"""TUSS at scale: the tiled kNN (float32, bfloat16 re-ranked in float32, memory-mapped bases),
the approximate index, the graph computed once and shared by LP1, LP2 and the combination, the
probe's global batch under two processes and the semi dual-stream sampler."""
import os
import os.path as osp
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train import free_port
from test_tuss_glcc import T13_F, T13_X
from test_tuss_models import run_stage, tree, zero_shot_model  # noqa: F401 (fixture)

from wsss.datasets.samplers import GlobalBatchSampler, SemiBalanceSampler
from wsss.io.mask_store import store_dir
from wsss.models.tuss import (
    TUSSCombinationModel,
    TUSSLabelPropagationModel,
    TUSSLinearProbe,
    glcc,
    knn,
    lp_graph,
)
from wsss.models.tuss.label_propagation import LabelPropagation, l2_normalize, neighbour_graph
from wsss.models.tuss.lp_graph import GRAPH_FOLDER, _save, computed_once, graph_degrees


def unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    return l2_normalize(np.random.default_rng(seed).normal(size=(n, d)))


def dense_top(x: np.ndarray, q: np.ndarray, k: int):
    scores = q @ x.T
    idx = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    return np.take_along_axis(scores, idx, 1), idx


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_tiled_exact_search_equals_the_dense_top_k(dtype, monkeypatch):
    monkeypatch.setattr(knn, 'BASE_TILE', 64)  # 4 base tiles of 64, 50, merged
    x = unit_rows(242, 16)
    sims, idx = dense_top(x, x[:37], 7)
    for tile in (5, None):  # 5 queries a tile, or as many as the memory budget allows
        index = knn.KNNIndex(x, 'exact', device='cpu', dtype=dtype, query_tile=tile)
        s, i = index.search(x[:37], 7)
        np.testing.assert_array_equal(i, idx)
        np.testing.assert_allclose(s, sims, atol=1e-6)  # bfloat16: re-ranked in float32
    # 1 MiB: a query takes a 64-score tile and the merge (8 bytes each) and its re-ranking rows
    assert knn.KNNIndex(x, 'exact', device='cpu', memory_mb=1)._tiles(7) == (
        2 ** 20 // (8 * 64 + 4 * 7 * 16), 64, 7)


def test_tiled_search_reads_a_memory_mapped_base(tmp_path):
    x = unit_rows(100, 8, seed=1)
    np.save(tmp_path / 'x.npy', x)
    mapped = np.load(tmp_path / 'x.npy', mmap_mode='r')
    for dtype in ('float32', 'bfloat16'):
        s, i = knn.KNNIndex(mapped, 'exact', device='cpu', dtype=dtype,
                            query_tile=16).search(x, 4)
        np.testing.assert_array_equal(i, dense_top(x, x, 4)[1])
    with pytest.raises(ValueError, match='kNN method'):
        knn.KNNIndex(x, 'annoy')
    with pytest.raises(ValueError, match='bfloat16'):
        knn.KNNIndex(x, 'exact', dtype='float16')


def test_approximate_index_finds_most_neighbours_and_drops_self():
    if knn.faiss is None:
        pytest.skip('faiss not installed')
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    x = l2_normalize(centres[rng.integers(0, 20, 2000)] + rng.normal(size=(2000, 32)))
    exact = neighbour_graph(x, 10, dict(method='exact', device='cpu'))
    for method in ('ivf', 'hnsw'):
        approx = neighbour_graph(x, 10, dict(method=method, nlist=20, nprobe=4))
        assert approx['neighbours'].shape == (2000, 10)
        assert not (approx['neighbours'] == np.arange(2000)[:, None]).any()
        found = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in
                         zip(approx['neighbours'], exact['neighbours'])])
        assert found > 0.8, method


def test_graph_given_or_searched_gives_t13_and_the_same_degrees():
    graph = neighbour_graph(l2_normalize(T13_X), 2, dict(method='exact', device='cpu'))
    np.testing.assert_array_equal(graph['neighbours'], [[1, 2], [0, 2], [3, 1], [2, 1]])
    lp = LabelPropagation(None, k=2, graph=graph)
    np.testing.assert_allclose(lp.propagate(np.array([[1., 0], [0, 0], [0, 0], [0, 1.]])),
                               T13_F, atol=1e-4)
    np.testing.assert_allclose(graph_degrees(graph), [1.6, 2.8, 2.8, 1.6], atol=1e-6)
    x = unit_rows(60, 5, seed=3)
    lp = LabelPropagation(x, k=6, gamma=3., knn=dict(method='exact'))
    degrees = graph_degrees(lp.graph, gamma=3.)  # float64 powers, LP's float32
    np.testing.assert_allclose(degrees, lp.degrees, rtol=1e-6)


def test_computed_once_loads_a_finished_result_and_waits_for_a_running_one(tmp_path):
    folder = str(tmp_path / 'result')
    calls = []
    out = computed_once(folder, lambda: calls.append(1) or dict(a=np.arange(3)))
    assert out['a'].tolist() == [0, 1, 2] and calls == [1]
    again = computed_once(folder, lambda: pytest.fail('computed twice'))
    assert isinstance(again['a'], np.memmap) and not osp.exists(folder + '.lock')

    other = str(tmp_path / 'other')
    with open(other + '.lock', 'w') as f:  # a live process of this machine computes it
        f.write(f'{os.uname().nodename} {os.getpid()}')

    def finish():
        _save(other, dict(b=np.ones(2)))
        os.remove(other + '.lock')
    threading.Timer(0.3, finish).start()
    assert computed_once(other, lambda: pytest.fail('not waited'), poll=0.05)['b'].sum() == 2

    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    stale = str(tmp_path / 'stale')
    with open(stale + '.lock', 'w') as f:  # left by a killed process: taken over
        f.write(f'{os.uname().nodename} {dead.pid}')
    assert computed_once(stale, lambda: dict(c=np.zeros(1)), poll=0.05)['c'].shape == (1,)


def test_lp_steps_and_combination_share_one_graph_and_one_index(tree, tmp_path,  # noqa: F811
                                                                monkeypatch):
    dataset, mask_dir = tree
    zs = run_stage(zero_shot_model(mask_dir), dataset, str(tmp_path / 'zs/seeds'))
    graphs = osp.join(osp.dirname(store_dir(zs)), GRAPH_FOLDER)
    lp1 = run_stage(TUSSLabelPropagationModel(21, mask_dir, zs, zs, k=3), dataset,
                    str(tmp_path / 'lp1/seeds'))
    assert len(os.listdir(graphs)) == 1
    monkeypatch.setattr(lp_graph, 'neighbour_graph',
                        lambda *a, **kw: pytest.fail('the graph was searched again'))
    built = []
    run_stage(TUSSLabelPropagationModel(21, mask_dir, zs, lp1, k=3), dataset,
              str(tmp_path / 'lp2/seeds'))

    class CountedIndex(knn.KNNIndex):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)
    monkeypatch.setattr(glcc, 'KNNIndex', CountedIndex)
    torch.manual_seed(0)
    comb = TUSSCombinationModel(21, embed_dim=32, mask_dir=mask_dir, embeddings_from=zs,
                                scores_from=zs, train_embeddings_from=zs, train_scores_from=lp1,
                                k_bar=3, k=3)
    comb.load_state_dict(TUSSLinearProbe(21, embed_dim=32).state_dict())
    run_stage(comb, dataset, str(tmp_path / 'comb/seeds'))
    assert built == [1] and len(os.listdir(graphs)) == 1


def _per_rank_batches(rank: int, port: int, out: str) -> None:
    from mmengine.dataset import InfiniteSampler
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    try:
        sampler = InfiniteSampler(list(range(2048)), shuffle=True, seed=0)
        batches = GlobalBatchSampler(sampler, batch_size=512)
        first = next(iter(batches))
        np.save(f'{out}.{rank}.npy', np.array([batches.batch_size, *first]))
    finally:
        dist.destroy_process_group()


def test_probe_global_batch_is_the_recipe_s_under_two_processes(tmp_path):
    out = str(tmp_path / 'batch')
    mp.start_processes(_per_rank_batches, args=(free_port(), out), nprocs=2,
                       start_method='fork')  # the children share the imported modules
    first = [np.load(f'{out}.{rank}.npy') for rank in (0, 1)]
    assert [f[0] for f in first] == [256, 256] and [len(f) for f in first] == [257, 257]
    assert len(set(first[0][1:]) | set(first[1][1:])) == 512  # one global step of 512 masks
    assert GlobalBatchSampler(range(10), batch_size=512).batch_size == 512  # one process


class _Semi:
    labelled = np.array([True, False, False, True, False, False, False])


def test_semi_balance_sampler_alternates_unlabelled_and_labelled():
    indices = [i for i, _ in zip(SemiBalanceSampler(_Semi(), seed=0), range(40))]
    assert all(_Semi.labelled[i] for i in indices[1::2])  # every second index is labelled
    assert not any(_Semi.labelled[i] for i in indices[::2])
    assert set(indices[::2][:5]) == {1, 2, 4, 5, 6}  # each stream a permutation, then again
    assert set(indices[1::2][:2]) == {0, 3} and set(indices[1::2][2:4]) == {0, 3}

    class AllLabelled:
        labelled = np.ones(3, bool)
    with pytest.raises(ValueError, match='InfiniteSampler'):
        SemiBalanceSampler(AllLabelled())
