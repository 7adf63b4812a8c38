"""GLCC label propagation over the kNN graph of all mask embeddings of a split (docs/tuss.md
§5.3 transductive, §5.4 inductive; the released ``label_propagator.py`` / ``lp_classifier.py``).

Transductive::

    X = L2-normalise(E); k+1 nearest neighbours by inner product, the first (self) dropped
    a = sims^γ; W = sparse(a); W = W + Wᵀ; W = W − diag(W); d = row sums (0 → 1)
    A = I − α D^-½ W D^-½;  A f_c = Y[:, c] by conjugate gradient per class;  F = max(F, 0)

Inductive, for a new embedding e (``norm_a_method='rigorous'``)::

    x = e/‖e‖; top-k̄ training neighbours j with sims a_j
    ā_j = a_j · (0.5 · (k̄/k) · d_j · Σ_i a_i)^-½;  y(e) = Σ_j ā_j Y*_j

The kNN is :class:`~.knn.KNNIndex` (exact tiled torch search on a GPU or the CPU, faiss flat,
or an approximate faiss index); ``knn`` settings pass through to it.

Negative similarities are edges as they are (γ = 1, the released arithmetic), where a mask's
degree or a new mask's Σ a_i that comes out negative has no square root: the released code
gives NaN scores there (and CG spreads them), which here is an error naming
``drop_negative_edges``. That switch makes negative similarities no edge (docs/tuss.md §10);
CLIP's mask embeddings have none among their nearest neighbours, random ones do.
"""
from typing import Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import cg

from . import knn as knn_module
from .knn import KNNIndex, faiss  # noqa: F401 (faiss: None when not installed)


def knn_search(queries: np.ndarray, base: np.ndarray, k: int, use_faiss: Optional[bool] = None,
               chunk: Optional[int] = None, **knn) -> Tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product: (sims, indices), each (Q, k), best first.

    ``use_faiss``: None = ``knn['method']`` ('auto' by default), True = faiss flat, False =
    the exact torch search; ``chunk``: its query tile; ``knn``: :class:`KNNIndex` settings."""
    if use_faiss is not None:
        knn['method'] = 'faiss' if use_faiss else 'exact'
    if use_faiss and knn_module.faiss is None:
        raise ImportError('faiss is not installed: pip install faiss-cpu, or use the torch '
                          'search (use_faiss=False)')
    return KNNIndex(np.asarray(base, np.float32), query_tile=chunk, **knn).search(queries, k)


def l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    return F.normalize(torch.as_tensor(np.asarray(embeddings, np.float32)), dim=1).numpy()


def neighbour_graph(X: np.ndarray, k: int, knn: Optional[Dict] = None) -> Dict[str, np.ndarray]:
    """The k nearest neighbours of every row of X among the others: ``neighbours`` (N, k)
    int64 and ``sims`` (N, k) float32. An exact search drops the first of k + 1 (the node
    itself, as the released code); an approximate one drops the node wherever it was found,
    else its last neighbour. Rows an approximate index could not fill point to themselves with
    similarity 0 (no edge: the diagonal is removed)."""
    index = KNNIndex(X, **(knn or {}))
    sims, idx = index.search(X, k + 1)
    if not index.approximate:
        sims, idx = sims[:, 1:], idx[:, 1:]
    else:
        rows = np.arange(len(X))[:, None]
        is_self = idx == rows
        drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), idx.shape[1] - 1)
        keep = np.ones(idx.shape, bool)
        keep[np.arange(len(X)), drop] = False
        sims = sims[keep].reshape(len(X), -1)
        idx = idx[keep].reshape(len(X), -1)
        missing = idx < 0
        idx = np.where(missing, rows, idx)
        sims = np.where(missing, 0, sims).astype(np.float32)
    return dict(neighbours=idx, sims=sims)


def edge_weights(sims: np.ndarray, gamma: float = 1.,
                 drop_negative_edges: bool = False) -> np.ndarray:
    """a = sims^γ (float64). Negative similarities are clipped to 0 (no edge) with
    ``drop_negative_edges`` and with γ ≠ 1 (a fractional power of them is not a number); with
    γ = 1 they are kept, as released."""
    sims = np.asarray(sims, np.float64)
    if drop_negative_edges or gamma != 1:
        sims = np.clip(sims, 0, None)
    return sims if gamma == 1 else np.power(sims, gamma)


def check_positive(values: np.ndarray, what: str) -> None:
    """Fail, naming ``model.drop_negative_edges``, where the released arithmetic would take the
    square root of a negative number."""
    negative = int((values < 0).sum())
    if negative:
        raise ValueError(
            f'{negative} of {len(values)} {what} negative: their nearest neighbours are on the '
            'whole dissimilar (random or collapsed mask embeddings?), and the released label '
            'propagation gives NaN scores; set model.drop_negative_edges=True to make negative '
            'similarities no edge')


class LabelPropagation:
    """The graph of a split's mask embeddings and the label propagation on it.

    Args:
        embeddings: (N, D) mask embeddings (L2-normalised here).
        k: neighbours per node (50).
        gamma: similarity exponent (1 in every TUSS config).
        alpha: propagation weight (0.9).
        use_faiss: as :func:`knn_search`; knn: :class:`KNNIndex` settings.
        graph: a :func:`neighbour_graph` computed before (``embeddings`` is then not read).
        drop_negative_edges: negative similarities are no edge (:func:`edge_weights`); else a
            negative degree is an error.
    """

    def __init__(self, embeddings: Optional[np.ndarray], k: int = 50, gamma: float = 1.,
                 alpha: float = 0.9, use_faiss: Optional[bool] = None,
                 knn: Optional[Dict] = None, graph: Optional[Dict[str, np.ndarray]] = None,
                 drop_negative_edges: bool = False) -> None:
        self.k, self.gamma, self.alpha = k, gamma, alpha
        knn = dict(knn or {})
        if use_faiss is not None:
            knn['method'] = 'faiss' if use_faiss else 'exact'
        if graph is None:
            self.X = l2_normalize(embeddings)
            graph = neighbour_graph(self.X, k, knn)
        self.graph = graph
        sims, idx = graph['sims'], graph['neighbours']
        N = len(idx)
        a = edge_weights(sims, gamma, drop_negative_edges)
        rows = np.repeat(np.arange(N), idx.shape[1])
        W = sp.csr_matrix((a.ravel(), (rows, idx.ravel())), shape=(N, N))
        W = W + W.T  # duplicate entries sum
        W = W - sp.diags(W.diagonal())
        d = np.asarray(W.sum(axis=1)).ravel()
        check_positive(d, "masks' degrees are")
        d[d == 0] = 1
        self.W, self.degrees = W.tocsr(), d
        d_inv_sqrt = sp.diags(d ** -0.5)
        self.Wn = (d_inv_sqrt @ W @ d_inv_sqrt).tocsr()
        self.A = (sp.eye(N) - alpha * self.Wn).tocsr()

    def propagate(self, Y: np.ndarray, tol: float = 1e-6, maxiter: int = 200) -> np.ndarray:
        """F (N, K): ``A f_c = Y[:, c]`` by conjugate gradient for every column, then max(F, 0)."""
        Y = np.asarray(Y, np.float64)
        out = np.zeros_like(Y)
        for c in range(Y.shape[1]):
            if not Y[:, c].any():
                continue  # the solution of A f = 0 is 0
            out[:, c] = _cg(self.A, Y[:, c], tol, maxiter)
        return np.maximum(out, 0)


def _cg(A, b: np.ndarray, tol: float, maxiter: int) -> np.ndarray:
    try:
        x, _ = cg(A, b, rtol=tol, maxiter=maxiter)
    except TypeError:  # scipy < 1.12 names the relative tolerance `tol`
        x, _ = cg(A, b, tol=tol, maxiter=maxiter)
    return x


def inductive_propagation(queries: np.ndarray, train_X, degrees: np.ndarray,
                          Y_star: np.ndarray, k_bar: int = 50, k: int = 50,
                          use_faiss: Optional[bool] = None,
                          drop_negative_edges: bool = False) -> np.ndarray:
    """(Q, K) scores of new embeddings from the training masks' LP seeding scores ``Y_star``
    (``seed_Y_star``), with the rigorous normalisation (§5.4). ``train_X``: the L2-normalised
    training embeddings or a :class:`KNNIndex` over them (built once for every new image);
    ``degrees``: the training graph's (k neighbours). Neighbours an approximate index could not
    find count as no edge; so do negative similarities with ``drop_negative_edges`` (a query
    left with no edge scores 0), else a query whose Σ a_i is negative is an error."""
    index = train_X if isinstance(train_X, KNNIndex) else KNNIndex(
        np.asarray(train_X, np.float32),
        method='auto' if use_faiss is None else 'faiss' if use_faiss else 'exact')
    x = l2_normalize(queries)
    sims, idx = index.search(x, k_bar)
    missing = idx < 0  # an approximate index could not fill these: no edge
    if missing.any():
        idx, sims = np.where(missing, 0, idx), np.where(missing, 0, sims).astype(np.float32)
    if drop_negative_edges:
        sims = np.clip(sims, 0, None)
    total = sims.sum(axis=1, keepdims=True)
    check_positive(total, "new masks' similarity sums are")
    norm = 0.5 * (k_bar / k) * degrees[idx] * total
    a_bar = np.divide(sims, np.sqrt(norm), out=np.zeros(norm.shape, np.float64), where=norm > 0)
    return np.einsum('qj,qjc->qc', a_bar, np.asarray(Y_star)[idx])
