"""Dataset-level results of GLCC computed once and shared (docs/tuss.md §5.3-5.5): the kNN graph
of a split's mask embeddings, used by LP1, LP2 and the combination's inductive step, and each
label propagation's scores F, used by every process of its step.

Each result is a folder of ``.npy`` arrays, memory-mapped when read. The first process that
needs it computes it (it takes a lock file beside the folder) and writes it atomically (a temp
folder renamed); the other processes of a distributed run wait for the folder and then map it,
so memory per process does not grow with the number of processes and the computation runs once.
The folder's name carries a fingerprint of its inputs (the store files' names, sizes and
modification times, and the settings), so a changed input gives a new result, never a stale one.

Layout: ``<zero-shot step>/lp_graph/<fingerprint>/`` holds ``X`` (N, D) float32 (L2-normalised
embeddings), ``neighbours`` (N, k) int64, ``sims`` (N, k) float32, ``names`` and ``offsets``;
``<zero-shot step>/lp_scores/<fingerprint>/`` holds ``F`` (N, K) float64, ``names`` and ``offsets``.
"""
import contextlib
import hashlib
import os
import os.path as osp
import shutil
import socket
import time
from typing import Callable, Dict, Iterator, Optional, Sequence

import numpy as np
import torch

from ...io.mask_store import load_split, shard_path, split_names, store_dir
from . import knn as knn_module
from .label_propagation import check_positive, edge_weights, l2_normalize, neighbour_graph

GRAPH_FOLDER, SCORES_FOLDER = 'lp_graph', 'lp_scores'


def fingerprint(*parts) -> str:
    """A short hash of ``parts`` (their ``repr``)."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def store_fingerprint(folder: str, names: Sequence[str],
                      setting: str = "the step's input") -> tuple:
    """(name, size, mtime) of every shard of a mask store: changes when any shard does."""
    out = []
    for name in names:
        path = shard_path(folder, name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'TUSS mask store file {path} not found: run the step that '
                                    f'writes it first, or set {setting}')
        stat = os.stat(path)
        out.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def computed_once(folder: str, compute: Callable[[], Dict[str, np.ndarray]],
                  poll: float = 2.) -> Dict[str, np.ndarray]:
    """The arrays of ``folder`` (memory-mapped); the first process to ask computes and saves
    them, the others wait. A lock left by a dead process of this machine is taken over; one of
    another machine has to be removed by hand (its path is printed while waiting)."""
    lock = folder + '.lock'
    waited = 0.
    while not osp.isdir(folder):
        if _acquire(lock):
            try:
                if not osp.isdir(folder):
                    with all_cores():
                        _save(folder, compute())
            finally:
                os.remove(lock)
        else:
            if waited == 0 or waited // 600 != (waited + poll) // 600:
                print(f'waiting for {folder} (computed by the process in {lock})', flush=True)
            time.sleep(poll)
            waited += poll
    return {name[:-4]: np.load(osp.join(folder, name), mmap_mode='r')
            for name in sorted(os.listdir(folder)) if name.endswith('.npy')}


@contextlib.contextmanager
def all_cores() -> Iterator[None]:
    """torch and faiss use every core of this process's CPU set meanwhile: the process that
    computes a shared result does it while the others wait (torchrun sets one thread each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    before = torch.get_num_threads()
    torch.set_num_threads(cores)
    if knn_module.faiss is not None:
        knn_module.faiss.omp_set_num_threads(cores)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if knn_module.faiss is not None:
            knn_module.faiss.omp_set_num_threads(before)


def _acquire(lock: str) -> bool:
    os.makedirs(osp.dirname(lock), exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        _remove_if_stale(lock)
        return False
    with os.fdopen(fd, 'w') as f:
        f.write(f'{socket.gethostname()} {os.getpid()}')
    return True


def _remove_if_stale(lock: str) -> None:
    try:
        with open(lock) as f:
            host, pid = f.read().split()
    except (OSError, ValueError):  # gone, or still being written
        return
    if host != socket.gethostname():
        return
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        try:
            os.remove(lock)
        except FileNotFoundError:
            pass
    except PermissionError:  # alive, another user's
        pass


def _save(folder: str, arrays: Dict[str, np.ndarray]) -> None:
    tmp = f'{folder}.{os.getpid()}.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        for name, value in arrays.items():
            np.save(osp.join(tmp, name + '.npy'), np.asarray(value))
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def graph_degrees(graph: Dict[str, np.ndarray], gamma: float = 1.,
                  drop_negative_edges: bool = False) -> np.ndarray:
    """Row sums of W = a + aᵀ without its diagonal (a = :func:`edge_weights` on the kNN edges;
    0 → 1): the degrees :class:`LabelPropagation` computes, in O(N·k) memory."""
    idx = np.asarray(graph['neighbours'])
    a = edge_weights(graph['sims'], gamma, drop_negative_edges)
    N = len(idx)
    rows = np.repeat(np.arange(N), idx.shape[1])
    a, cols = a.ravel(), idx.ravel()
    self_edge = rows == cols
    d = (np.bincount(rows, a, N) + np.bincount(cols, a, N)
         - 2 * np.bincount(rows[self_edge], a[self_edge], N))
    check_positive(d, "masks' degrees are")
    d[d == 0] = 1
    return d


def shared_graph(embeddings_from: str, k: int, knn: Optional[Dict] = None,
                 setting: str = 'model.embeddings_from') -> Dict[str, np.ndarray]:
    """The kNN graph of the zero-shot step ``embeddings_from``'s mask embeddings (computed once,
    see the module)."""
    folder = store_dir(embeddings_from)
    names = split_names(folder, setting)
    if not names:
        raise ValueError(f'the mask store {folder} holds no image: run the zero-shot step '
                         f'first, or set {setting}')
    key = fingerprint(store_fingerprint(folder, names, setting), k, sorted((knn or {}).items()))

    def compute() -> Dict[str, np.ndarray]:
        emb = load_split(folder, ['embeddings'], names=names, setting=setting)
        X = l2_normalize(emb['embeddings'])
        return dict(X=X, names=emb['names'], offsets=emb['offsets'],
                    **neighbour_graph(X, k, knn))

    return computed_once(osp.join(osp.dirname(folder), GRAPH_FOLDER, key), compute)
