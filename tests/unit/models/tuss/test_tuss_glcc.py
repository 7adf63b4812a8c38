"""GLCC: soft labels, the cosine probe and its loss, label propagation, the combination
(docs/tuss.md §5, T10-T15), the probe schedule, semi supervision's balancing (§6)."""
import os.path as osp

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import ROOT

from wsss.datasets.mask_embeddings import soft_labels
from wsss.models.tuss import (
    LabelPropagation,
    TUSSLinearProbe,
    area_weighted_loss,
    balance,
    combine,
    inductive_propagation,
    knn_search,
    label_propagation,
    seed_on_logits,
)
from wsss.models.tuss.knn import KNNIndex
from wsss.models.tuss.lp_graph import graph_degrees

T13_X = np.array([[1, 0], [.8, .6], [0, 1], [-.6, .8]])
T13_F = np.array([[2.7791, 1.2775], [2.6150, 1.8778], [1.8778, 2.6150], [1.2775, 2.7791]])


def test_t10_soft_label():
    soft = soft_labels(np.array([[.2, .3, .9]]), np.array([[True, True, False]]))
    np.testing.assert_allclose(soft, [[4.54e-5, 0.99995, 0]], rtol=1e-3, atol=1e-7)
    # an all-zero row: uniform over background and the image's classes
    np.testing.assert_allclose(soft_labels(np.zeros((1, 3)), np.array([[1, 0, 1]], bool)),
                               [[.5, 0, .5]])


def test_t11_probe_logits_and_area_weighted_loss():
    probe = TUSSLinearProbe(num_classes=3, embed_dim=2)
    probe.head.weight.data = torch.tensor([[1., 0.], [0., 2.], [-1., -1.]])
    e = torch.tensor([[3., 4.], [1., 0.]])
    logits = probe.logits(e)
    torch.testing.assert_close(logits, torch.tensor([[60., 80., -98.995], [100., 0., -70.711]]),
                               atol=1e-3, rtol=0)
    targets = torch.tensor([[1., 0, 0], [0, 1., 0]])
    ce = torch.nn.functional.cross_entropy(logits, targets, reduction='none')
    torch.testing.assert_close(ce, torch.tensor([20., 100.]), atol=1e-3, rtol=0)
    loss = area_weighted_loss(logits, targets, torch.tensor([1., 3.]))
    assert loss.item() == pytest.approx(79.980, abs=1e-3)
    batch = dict(soft_label=targets, area=torch.tensor([1., 3.]))
    assert probe(e, batch, mode='loss')['loss_probe'].item() == pytest.approx(79.980, abs=1e-3)
    # as mmengine's pseudo_collate hands a batch over: lists of per-mask tensors
    listed = dict(soft_label=list(targets), area=[torch.tensor(1.), torch.tensor(3.)])
    loss = probe(list(e), listed, mode='loss')['loss_probe']
    assert loss.item() == pytest.approx(79.980, abs=1e-3)
    with pytest.raises(ValueError, match='model.num_classes'):
        probe(e, dict(soft_label=targets[:, :2], area=torch.ones(2)), mode='loss')


def test_probe_separates_linearly_separable_embeddings():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    x[:32, 0] += 3
    x[32:, 0] -= 3
    soft = torch.zeros(64, 2)
    soft[:32, 0] = 1
    soft[32:, 1] = 1
    probe = TUSSLinearProbe(num_classes=2, embed_dim=4)
    opt = torch.optim.SGD(probe.parameters(), lr=0.02, momentum=0.9)
    for _ in range(100):
        opt.zero_grad()
        probe(x, dict(soft_label=soft, area=torch.ones(64)), mode='loss')['loss_probe'].backward()
        opt.step()
    assert (probe.logits(x).argmax(1) == soft.argmax(1)).all()


@pytest.mark.parametrize('use_faiss', [False, None])
def test_t13_label_propagation(use_faiss):
    lp = LabelPropagation(T13_X, k=2, gamma=1., alpha=.9, use_faiss=use_faiss)
    W = lp.W.toarray()
    expected_W = np.zeros((4, 4))
    expected_W[0, 1] = expected_W[1, 0] = 1.6
    expected_W[1, 2] = expected_W[2, 1] = 1.2
    expected_W[2, 3] = expected_W[3, 2] = 1.6
    np.testing.assert_allclose(W, expected_W, atol=1e-6)
    np.testing.assert_allclose(lp.degrees, [1.6, 2.8, 2.8, 1.6], atol=1e-6)
    Wn = lp.Wn.toarray()
    assert Wn[0, 1] == pytest.approx(.7559, abs=1e-4) and Wn[1, 2] == pytest.approx(.4286, abs=1e-4)
    Y = np.array([[1., 0], [0, 0], [0, 0], [0, 1.]])
    F = lp.propagate(Y)
    np.testing.assert_allclose(F, T13_F, atol=1e-4)
    np.testing.assert_allclose(F, np.linalg.solve(np.eye(4) - .9 * Wn, Y), atol=1e-5)
    assert F.argmax(1).tolist() == [0, 0, 1, 1]


def test_torch_and_faiss_knn_agree():
    if label_propagation.faiss is None:
        pytest.skip('faiss not installed')
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    s_t, i_t = knn_search(x, x, 11, use_faiss=False, chunk=64)
    s_f, i_f = knn_search(x, x, 11, use_faiss=True)
    np.testing.assert_array_equal(i_t, i_f)
    np.testing.assert_allclose(s_t, s_f, atol=1e-5)


def test_knn_torch_chunks_and_self_first():
    rng = np.random.default_rng(1)
    x = label_propagation.l2_normalize(rng.normal(size=(50, 5)))
    sims, idx = knn_search(x, x, 4, use_faiss=False, chunk=7)
    assert (idx[:, 0] == np.arange(50)).all()
    dense = x @ x.T
    np.testing.assert_allclose(sims, -np.sort(-dense, axis=1)[:, :4], atol=1e-6)


def test_t14_inductive_rigorous():
    lp = LabelPropagation(T13_X, k=2)
    y = inductive_propagation(np.array([[.6, .8]]), lp.X, lp.degrees, T13_F, k_bar=2, k=2,
                              use_faiss=False)
    np.testing.assert_allclose(y, [[2.5563, 2.4811]], atol=2e-4)


def test_t15_combination():
    s_lp = torch.tensor([[.2, .5, 0.]], dtype=torch.float64)
    s_probe = torch.tensor([[.3, .6, .1]], dtype=torch.float64)
    combined = combine(s_lp, s_probe, w_lp=2., w_probe=1.)
    torch.testing.assert_close(combined, torch.tensor([[.7, 1.6, 0.]], dtype=torch.float64))
    seeds = seed_on_logits(combined, [0, 1], with_bg_logit=True, L1=True,
                           bg=dict(method='alpha_bg', alpha=.5))
    torch.testing.assert_close(seeds.scores, torch.tensor([[.5517, .6957, 0]],
                                                          dtype=torch.float64), atol=1e-4, rtol=0)
    assert seeds.labels.tolist() == [1]


def test_semi_balance_and_bg_fg_eq():
    Y = np.array([[1., 1.], [2., 0.], [0., 4.]])
    labelled = np.array([True, False, False])
    out = balance(Y, labelled, r=1., bg_fg=None)
    assert out[labelled].sum() == pytest.approx(4) and out[~labelled].sum() == pytest.approx(4)
    out = balance(Y, labelled, r=None, bg_fg='eq')
    assert out[:, 0].sum() == pytest.approx(4) and out[:, 1:].sum() == pytest.approx(4)
    with pytest.raises(ValueError, match='bg_fg_balance'):
        balance(Y, labelled, None, 'mean')


def test_propagation_matrix_is_symmetric_positive_definite():
    rng = np.random.default_rng(2)
    lp = LabelPropagation(rng.normal(size=(30, 6)), k=5)
    A = lp.A.toarray()
    np.testing.assert_allclose(A, A.T, atol=1e-12)
    assert np.linalg.eigvalsh(A).min() > 0
    assert sp.issparse(lp.A) and lp.W.diagonal().sum() == 0


def test_t12_probe_lr_schedule():
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS

    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/schedules/tuss_probe.py'))
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.02, momentum=0.9)
    wrapper = OptimWrapper(optimizer)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper)) for s in cfg.param_scheduler]
    lrs = {}
    for it in range(60000):
        lrs[it] = optimizer.param_groups[0]['lr']
        for s in schedulers:
            s.step()
    lrs[60000] = optimizer.param_groups[0]['lr']
    assert lrs[0] == pytest.approx(1e-5)
    assert lrs[6000] == pytest.approx(0.02)
    assert lrs[33000] == pytest.approx(0.01)
    assert lrs[59999] < 1e-7 and lrs[60000] == pytest.approx(0, abs=1e-9)
    loader = cfg.train_dataloader  # 512 masks a step whatever the GPU count (GlobalBatchSampler)
    assert loader.batch_size == 512 and loader.batch_sampler.drop_last


def test_inductive_neighbours_an_approximate_index_missed_are_no_edge():
    """T14's query with k̄ = 3 where the index found only the two true neighbours (the third
    slot -1, -inf, as faiss leaves it): a_j = s_j / sqrt(.5 (3/2) d_j (.96 + .80)) with
    d = 2.8 -> (.49935, .41612); y = a_1 F_1 + a_2 F_2, finite."""
    lp = LabelPropagation(T13_X, k=2)

    class Partial(KNNIndex):
        def search(self, queries, k):
            return (np.array([[.96, .80, -np.inf]], np.float32), np.array([[1, 2, -1]]))

    y = inductive_propagation(np.array([[.6, .8]]), Partial(lp.X.astype(np.float32),
                                                             method='exact'),
                              lp.degrees, T13_F, k_bar=3, k=2)
    np.testing.assert_allclose(y, [[2.0872, 2.0258]], atol=2e-4)


NEGATIVE_X = np.array([[1., 0], [.8, .6], [-1, 0]])  # node 2's one neighbour: node 1, sim -.8


def test_negative_degree_is_an_error_or_with_drop_negative_edges_no_edge():
    """k = 1: W01 = .8 + .8, W12 = -.8, so d2 = -.8 (the released arithmetic: NaN). Dropped, node
    2 is isolated (d = 1) and keeps its label; nodes 0-1: Wn01 = 1.6 / 1.6 = 1, so
    [[1, -.9], [-.9, 1]] f = [1, 0] gives f = [1, .9] / .19."""
    with pytest.raises(ValueError,
                       match=r"1 of 3 masks' degrees are negative.*drop_negative_edges=True"):
        LabelPropagation(NEGATIVE_X, k=1, use_faiss=False)
    lp = LabelPropagation(NEGATIVE_X, k=1, use_faiss=False, drop_negative_edges=True)
    np.testing.assert_allclose(lp.degrees, [1.6, 1.6, 1], atol=1e-6)
    F = lp.propagate(np.array([[1., 0], [0, 0], [0, 1]]))
    np.testing.assert_allclose(F, [[1 / .19, 0], [.9 / .19, 0], [0, 1]], atol=1e-4)
    graph = lp.graph
    np.testing.assert_allclose(graph_degrees(graph, drop_negative_edges=True), lp.degrees)
    with pytest.raises(ValueError, match='drop_negative_edges'):
        graph_degrees(graph)


def test_inductive_negative_similarity_sum_is_an_error_or_dropped():
    """T14's training graph, query (.6, -.8), k̄ = 3: sims .6 (node 0), 0 (node 1), -.8 (node 2)
    sum to -.2 (released: NaN). Dropped: a_0 = .6 / sqrt(.5 (3/2) 1.6 .6) = .70711, the others
    0, so y = .70711 F_0; a query with no positive neighbour scores 0."""
    lp = LabelPropagation(T13_X, k=2)
    query = np.array([[.6, -.8]])
    with pytest.raises(ValueError,
                       match=r"1 of 1 new masks' similarity sums are negative.*drop_negative"):
        inductive_propagation(query, lp.X, lp.degrees, T13_F, k_bar=3, k=2, use_faiss=False)
    y = inductive_propagation(query, lp.X, lp.degrees, T13_F, k_bar=3, k=2, use_faiss=False,
                              drop_negative_edges=True)
    np.testing.assert_allclose(y, [.70711 * T13_F[0]], atol=2e-4)
    y = inductive_propagation(np.array([[0., -1]]), lp.X, lp.degrees, T13_F, k_bar=2, k=2,
                              use_faiss=False, drop_negative_edges=True)
    np.testing.assert_array_equal(y, [[0, 0]])
