"""GLCC label propagation over the kNN graph of all mask embeddings of a split (docs/tuss.md
§5.3 transductive, §5.4 inductive; the released ``label_propagator.py`` / ``lp_classifier.py``).

Transductive::

    X = L2-normalise(E); k+1 nearest neighbours by inner product, the first (self) dropped
    a = sims^γ; W = sparse(a); W = W + Wᵀ; W = W − diag(W); d = row sums (0 → 1)
    A = I − α D^-½ W D^-½;  A f_c = Y[:, c] by conjugate gradient per class;  F = max(F, 0)

Inductive, for a new embedding e (``norm_a_method='rigorous'``)::

    x = e/‖e‖; top-k̄ training neighbours j with sims a_j
    ā_j = a_j · (0.5 · (k̄/k) · d_j · Σ_i a_i)^-½;  y(e) = Σ_j ā_j Y*_j

The kNN is faiss's exact inner-product index (``IndexFlatIP``) when faiss is installed, else an
exact torch search in chunks; both return the same neighbours (up to ties).
"""
from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import cg

try:
    import faiss
except ImportError:  # optional: pip install faiss-cpu (or a GPU build)
    faiss = None


def knn_search(queries: np.ndarray, base: np.ndarray, k: int, use_faiss: Optional[bool] = None,
               chunk: int = 4096) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product: (sims, indices), each (Q, k), best first.

    ``use_faiss``: None = faiss when installed; False = torch."""
    k = min(k, len(base))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    if use_faiss is None:
        use_faiss = faiss is not None
    if use_faiss:
        if faiss is None:
            raise ImportError('faiss is not installed: pip install faiss-cpu, or use the torch '
                              'search (use_faiss=False)')
        index = faiss.IndexFlatIP(base.shape[1])
        index.add(base)
        sims, idx = index.search(queries, k)
        return sims, idx.astype(np.int64)
    base_t = torch.from_numpy(base)
    sims, idx = [], []
    for start in range(0, len(queries), chunk):
        s, i = torch.topk(torch.from_numpy(queries[start:start + chunk]) @ base_t.t(), k, dim=1)
        sims.append(s)
        idx.append(i)
    if not sims:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    return torch.cat(sims).numpy(), torch.cat(idx).numpy()


def l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    return F.normalize(torch.as_tensor(np.asarray(embeddings, np.float32)), dim=1).numpy()


class LabelPropagation:
    """The graph of a split's mask embeddings and the label propagation on it.

    Args:
        embeddings: (N, D) mask embeddings (L2-normalised here).
        k: neighbours per node (50).
        gamma: similarity exponent (1 in every TUSS config).
        alpha: propagation weight (0.9).
        use_faiss: as :func:`knn_search`.
    """

    def __init__(self, embeddings: np.ndarray, k: int = 50, gamma: float = 1.,
                 alpha: float = 0.9, use_faiss: Optional[bool] = None) -> None:
        self.X = l2_normalize(embeddings)
        self.k, self.gamma, self.alpha = k, gamma, alpha
        N = len(self.X)
        sims, idx = knn_search(self.X, self.X, k + 1, use_faiss)
        sims, idx = sims[:, 1:], idx[:, 1:]  # the first neighbour is the node itself
        a = np.power(np.clip(sims, 0, None), gamma) if gamma != 1 else sims
        rows = np.repeat(np.arange(N), idx.shape[1])
        W = sp.csr_matrix((a.ravel().astype(np.float64), (rows, idx.ravel())), shape=(N, N))
        W = W + W.T  # duplicate entries sum
        W = W - sp.diags(W.diagonal())
        d = np.asarray(W.sum(axis=1)).ravel()
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


def inductive_propagation(queries: np.ndarray, train_X: np.ndarray, degrees: np.ndarray,
                          Y_star: np.ndarray, k_bar: int = 50, k: int = 50,
                          use_faiss: Optional[bool] = None) -> np.ndarray:
    """(Q, K) scores of new embeddings from the training masks' LP seeding scores ``Y_star``
    (``seed_Y_star``), with the rigorous normalisation (§5.4). ``train_X`` L2-normalised,
    ``degrees`` the training graph's (k neighbours)."""
    x = l2_normalize(queries)
    sims, idx = knn_search(x, train_X, k_bar, use_faiss)
    total = sims.sum(axis=1, keepdims=True)
    norm = 0.5 * (k_bar / k) * degrees[idx] * total
    a_bar = sims / np.sqrt(norm)
    return np.einsum('qj,qjc->qc', a_bar, np.asarray(Y_star)[idx])
