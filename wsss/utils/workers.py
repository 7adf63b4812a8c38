"""A bounded pool of CPU worker processes for post-processing that must not hold up the model."""
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Deque, List, Optional

import torch

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def cores_per_rank() -> int:
    """The CPU cores this process may use (its affinity mask), shared among the ranks of a
    distributed run on the same machine (``LOCAL_WORLD_SIZE``, set by torchrun)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return max(1, (cores or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', 1)))


def spare_cores() -> int:
    """Post-processing workers for this rank (:func:`cores_per_rank`): beside a GPU, the cores
    left when the model's process (one core: it waits on the GPU, partly spinning) and the
    loader (:func:`loader_workers`) have theirs, at least one; on the CPU, the cores beyond
    torch's threads (a model on the CPU keeps its threads busy, and a worker beside them only
    slows it down)."""
    cores = cores_per_rank()
    if torch.cuda.is_available():
        return max(1, cores - 1 - loader_workers())
    return max(0, cores - torch.get_num_threads())


def loader_workers(most: int = 4) -> int:
    """Dataloader processes for this rank. Beside a GPU, a third of the rank's cores, at least
    one and at most ``most`` (decoding, resizing and packing a VOC image take ~7 ms, so four
    keep up with ~550 images/s, tools/benchmark/seed_cpu.py; the other cores go to
    post-processing, :func:`spare_cores`, which costs 2-6x more per image for argmax and SAMS
    seeds). Where the model runs on the CPU, up to ``most`` of the cores beyond torch's
    threads, usually 0: the images are then decoded in the model's process (about 1% of an
    image's time there), since loader processes would take time from the model's threads
    (README: Performance)."""
    cores = cores_per_rank()
    if torch.cuda.is_available():
        return max(1, min(most, cores // 3))
    return min(most, max(0, cores - torch.get_num_threads()))


def single_thread_worker() -> None:
    """Initializer of forked CPU workers.

    One torch thread: N processes with a thread pool each would oversubscribe the CPUs, and one
    thread also keeps a forked child out of the OpenMP pool it inherited from the parent. On
    Linux the worker is killed with its parent, so a killed job leaves no orphans behind (its
    half-written files are temp files, removed by the next run). Ctrl-C is the parent's to handle.
    """
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith('linux'):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def background_worker(idle: bool = True) -> None:
    """Initializer of :class:`BoundedPool`'s workers: :func:`single_thread_worker`, with
    ``idle`` scheduled to run only on otherwise idle cores (Linux ``SCHED_IDLE``; elsewhere the
    lowest priority). Where the model's process keeps every core busy (a model on the CPU),
    they take only what it leaves, instead of preempting one of its threads, which stalls all
    the others at the next barrier of a parallel matrix product; when the pool is full the model
    waits, and the workers have every core. Beside a GPU (``idle=False``) the model's process
    spins in CUDA synchronisations: idle workers would get no core at all, and the GPU would
    wait for them."""
    single_thread_worker()
    if not idle:
        return
    if hasattr(os, 'SCHED_IDLE'):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(19)


class BoundedPool:
    """Runs ``fn(*args)`` in ``workers`` forked processes (:func:`background_worker`: at low
    priority where no GPU runs the model), with at most ``max_pending`` tasks submitted but
    unfinished: :meth:`submit` blocks while that many are, so memory stays flat however far the
    producer runs ahead. ``workers=0`` runs each task at once, in this process.

    Results come back in submission order (:meth:`finished`, :meth:`close`); a task's exception
    is raised there, after which the pool is shut down.

    Args:
        workers: processes; None: :func:`spare_cores` (0 where the model's threads take every
            core: the tasks then run in this process).
        max_pending: default ``2 * workers`` (each worker busy and one task queued behind it).
        idle: run the workers at idle priority (:func:`background_worker`); None: where no GPU
            runs the model. False for a CPU job whose main process only waits on its workers.
    """

    def __init__(self, workers: Optional[int] = None, max_pending: Optional[int] = None,
                 idle: Optional[bool] = None) -> None:
        self.workers = spare_cores() if workers is None else workers
        self.idle = not torch.cuda.is_available() if idle is None else idle
        if self.workers < 0:
            raise ValueError(f'workers must be >= 0, got {workers}')
        self.max_pending = max_pending or 2 * max(self.workers, 1)
        self._executor: Optional[ProcessPoolExecutor] = None
        self._pending: Deque[Future] = deque()
        self._done: List[Any] = []

    def start(self) -> None:
        """Fork the workers now (else at the first :meth:`submit`).

        Forked workers start at once with the parent's modules, and share its pages until
        either writes them; a page the parent rewrites afterwards is copied, the old one kept
        alive by the workers. So start them early, before a model allocates its working memory:
        then they share its weights and hold nothing more. The parent's free heap is given back
        to the system first (glibc ``malloc_trim``), and ``gc.freeze`` keeps the workers'
        garbage collector off the parent's objects, whose pages it would otherwise copy.
        """
        if self.workers == 0 or self._executor is not None:
            return
        gc.collect()
        if sys.platform.startswith('linux'):
            ctypes.CDLL(None).malloc_trim(0)
        gc.freeze()
        try:
            self._executor = ProcessPoolExecutor(
                self.workers, multiprocessing.get_context('fork'), initializer=background_worker,
                initargs=(self.idle,))
            self._executor.submit(int).result()  # forks the workers now, while the heap is frozen
        finally:
            gc.unfreeze()

    def submit(self, fn: Callable, *args) -> None:
        if self.workers == 0:
            self._done.append(fn(*args))
            return
        self.start()
        while len(self._pending) >= self.max_pending:
            wait(self._pending, return_when=FIRST_COMPLETED)
            self._collect()
        self._pending.append(self._executor.submit(fn, *args))

    def _collect(self) -> None:
        """Move the finished head of the queue to the results (in submission order)."""
        while self._pending and self._pending[0].done():
            future = self._pending.popleft()
            try:
                self._done.append(future.result())
            except BaseException:
                self.shutdown()
                raise

    def finished(self) -> List[Any]:
        """The results of the tasks finished so far, in submission order; they are handed out
        once."""
        self._collect()
        out, self._done = self._done, []
        return out

    def close(self) -> List[Any]:
        """Wait for every task; the remaining results, in submission order."""
        for future in list(self._pending):
            future.exception()  # waits
        out = self.finished()
        self.shutdown()
        return out

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pending.clear()
