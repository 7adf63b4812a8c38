"""Top-k inner-product search for TUSS's label propagation on the hardware there is
(docs/tuss.md §5.3-5.4; the released code uses faiss ``GpuIndexFlatIP``).

:class:`KNNIndex` holds the base once and answers any number of query batches:

- ``'exact'``: a tiled exact search in torch: query tiles × base tiles sized to ``memory_mb``,
  a matmul and a top-k per tile, merged; on ``device`` (a GPU when there is one). ``dtype``
  'float32', or 'bfloat16' with 2k candidates per query re-ranked in float32 (the same
  neighbours as float32 unless two similarities differ by less than bfloat16 can tell apart
  within the candidates).
- ``'faiss'``: faiss ``IndexFlatIP`` (exact), on every GPU when faiss has GPU support and
  ``device`` is a GPU.
- ``'ivf'``, ``'hnsw'``: approximate faiss CPU indexes (``IndexIVFFlat`` with ``nlist`` cells of
  which ``nprobe`` are searched; ``IndexHNSWFlat``); their recall against the exact search is
  measured by tools/benchmark/tuss.py --scale.
- ``'auto'``: 'exact' on the GPU when torch sees one, else 'faiss' when installed, else 'exact'
  on the CPU.

Time: exact search 2·Q·N·D FLOP (COCO, N = Q = 3.3 M, D = 512: 1.1e16); IVF about
2·Q·(nlist + nprobe·N/nlist)·D. Memory: the base (N·D·4 bytes; a memory-mapped base is read
tile by tile on the CPU) plus ``memory_mb`` for the tiles, whatever Q.
"""
from typing import Optional, Tuple

import numpy as np
import torch

try:
    import faiss
except ImportError:  # optional: pip install faiss-cpu (or a GPU build)
    faiss = None

METHODS = ('auto', 'exact', 'faiss', 'ivf', 'hnsw')
APPROXIMATE = ('ivf', 'hnsw')
BASE_TILE = 1 << 16


def faiss_gpus() -> int:
    """GPUs faiss can use (0 for a CPU build or none)."""
    return faiss.get_num_gpus() if faiss is not None and hasattr(faiss, 'get_num_gpus') else 0


class KNNIndex:
    """Inner-product top-k over a fixed ``base`` (N, D), built once.

    Args:
        base: (N, D) float32 rows (may be a read-only memory map).
        method: one of :data:`METHODS`.
        device: torch device of 'exact' (None: the GPU when there is one, else the CPU).
        dtype: 'float32' or 'bfloat16' (exact search; bfloat16 re-ranks in float32).
        memory_mb: bytes of the score tiles of the exact search, in MiB.
        nlist, nprobe: IVF cells (None: 2·√N, at most N / 39) and cells searched.
        hnsw_m, ef_search: HNSW links per node and search breadth.
        query_tile: queries per tile of the exact search (None: from ``memory_mb``).
    """

    def __init__(self, base: np.ndarray, method: str = 'auto', device: Optional[str] = None,
                 dtype: str = 'float32', memory_mb: int = 1024, nlist: Optional[int] = None,
                 nprobe: int = 16, hnsw_m: int = 32, ef_search: int = 128,
                 query_tile: Optional[int] = None) -> None:
        if method not in METHODS:
            raise ValueError(f'kNN method must be one of {METHODS}, got {method!r}')
        if dtype not in ('float32', 'bfloat16'):
            raise ValueError(f"kNN dtype must be 'float32' or 'bfloat16', got {dtype!r}")
        gpu = torch.cuda.is_available()
        if method == 'auto':
            method = 'exact' if gpu or faiss is None else 'faiss'
        if method != 'exact' and faiss is None:
            raise ImportError(f'kNN method {method!r} needs faiss: pip install faiss-cpu, or set '
                              "the kNN method to 'exact'")
        self.method, self.dtype, self.memory = method, dtype, memory_mb * 2 ** 20
        self.query_tile = query_tile
        self.device = torch.device(device or ('cuda' if gpu else 'cpu'))
        self.size, self.dim = base.shape
        if method == 'exact':
            self.base = (torch.from_numpy(np.ascontiguousarray(base, np.float32)).to(self.device)
                         if self.device.type != 'cpu' else base)
            if isinstance(self.base, torch.Tensor) and dtype == 'bfloat16':
                self.base_low = self.base.to(torch.bfloat16)
        else:
            self.index = self._faiss_index(np.ascontiguousarray(base, np.float32), nlist,
                                           nprobe, hnsw_m, ef_search)

    @property
    def approximate(self) -> bool:
        return self.method in APPROXIMATE

    def _faiss_index(self, base: np.ndarray, nlist: Optional[int], nprobe: int, hnsw_m: int,
                     ef_search: int):
        N, D = base.shape
        if self.method == 'faiss':
            index = faiss.IndexFlatIP(D)
            if self.device.type == 'cuda' and faiss_gpus():
                index = faiss.index_cpu_to_all_gpus(index)
        elif self.method == 'ivf':
            nlist = nlist or int(np.clip(2 * np.sqrt(N), 1, max(1, N // 39)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(D), D, nlist, faiss.METRIC_INNER_PRODUCT)
            # k-means of 10 rounds on 64 points a cell (faiss asks for at least 39): every node
            # is a query here, so training must stay a small share of the time
            index.cp.niter = 10
            sample = np.random.default_rng(0).permutation(N)[:64 * nlist]
            index.train(base[np.sort(sample)])
            index.nprobe = min(nprobe, nlist)
        else:
            index = faiss.IndexHNSWFlat(D, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = ef_search
        index.add(base)
        return index

    def search(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """(sims float32, indices int64), each (Q, min(k, N)), best first. An approximate index
        may miss neighbours; rows it cannot fill hold index -1 and similarity -inf."""
        k = min(k, self.size)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(queries) == 0 or k == 0:
            return np.zeros((len(queries), k), np.float32), np.zeros((len(queries), k), np.int64)
        if self.method != 'exact':
            sims, idx = self.index.search(queries, k)
            sims[idx < 0] = -np.inf
            return sims, idx.astype(np.int64)
        return self._tiled(queries, k)

    def _tiles(self, k: int) -> Tuple[int, int, int]:
        """(query tile, base tile, candidates): the score tile (and the re-ranking gather of
        bfloat16) fit in the memory budget."""
        candidates = min(self.size, 2 * k) if self.dtype == 'bfloat16' else k
        base_tile = min(self.size, BASE_TILE)
        per_query = 8 * max(base_tile, candidates) + 4 * candidates * self.dim
        return self.query_tile or max(1, self.memory // per_query), base_tile, candidates

    def _tiled(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        query_tile, base_tile, candidates = self._tiles(k)
        low = torch.bfloat16 if self.dtype == 'bfloat16' else torch.float32
        sims_out = np.empty((len(queries), k), np.float32)
        idx_out = np.empty((len(queries), k), np.int64)
        for qs in range(0, len(queries), query_tile):
            q = torch.from_numpy(queries[qs:qs + query_tile]).to(self.device)
            q_low = q.to(low)
            best_s = best_i = None
            for bs in range(0, self.size, base_tile):
                tile = self._base_rows(bs, bs + base_tile, low)
                s = (q_low @ tile.t()).float()
                s, i = s.topk(min(candidates, s.shape[1]), dim=1)
                i += bs
                if best_s is not None:
                    s, pick = torch.cat([best_s, s], 1).topk(candidates, dim=1)
                    i = torch.cat([best_i, i], 1).gather(1, pick)
                best_s, best_i = s, i
            if low is not torch.float32:  # re-rank the candidates in float32
                rows = self._base_rows_at(best_i)
                best_s = torch.einsum('qd,qcd->qc', q, rows)
                best_s, pick = best_s.topk(k, dim=1)
                best_i = best_i.gather(1, pick)
            sims_out[qs:qs + len(q)] = best_s[:, :k].cpu().numpy()
            idx_out[qs:qs + len(q)] = best_i[:, :k].cpu().numpy()
        return sims_out, idx_out

    def _base_rows(self, start: int, stop: int, dtype: torch.dtype) -> torch.Tensor:
        if isinstance(self.base, torch.Tensor):
            return (self.base if dtype is torch.float32 else self.base_low)[start:stop]
        rows = np.ascontiguousarray(self.base[start:stop], np.float32)
        if not rows.flags.writeable:  # a memory map's rows: copy this tile
            rows = np.array(rows)
        return torch.from_numpy(rows).to(dtype)

    def _base_rows_at(self, idx: torch.Tensor) -> torch.Tensor:
        if isinstance(self.base, torch.Tensor):
            return self.base[idx]
        flat = idx.flatten().cpu().numpy()
        order = np.argsort(flat)  # sorted reads from a memory map
        rows = np.empty((len(flat), self.dim), np.float32)
        rows[order] = self.base[flat[order]]
        return torch.from_numpy(rows).view(*idx.shape, self.dim)
