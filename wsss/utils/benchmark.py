"""Measuring for tools/benchmark/: timing (warm-up, steady state, the device synchronised), the
host's waits for a GPU, torch's threads for a benchmark's span, peak memory (one reader, for the
host and for a CUDA device) and a measurement in a child process; a random SAM calibrated to pass
the mask filters and the comparison of two SAM mask lists; and :func:`stage`, which library code
uses to mark the steps a benchmark times.

Standard library and torch only: tools/benchmark/device_kit/pack.py packs this module for a
machine with nothing else.
"""
import ctypes
import multiprocessing
import os
import tempfile
import threading
import time
import traceback
import warnings
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


# ---------------------------------------------------------------- timing
def is_cuda(device: Any) -> bool:
    return str(device).startswith('cuda')


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (CUDA); nothing on a CPU."""
    if is_cuda(device):
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: Any = 'cpu', repeat: int = 1,
          warmup: int = 0) -> Tuple[float, Any]:
    """Seconds per call of ``fn`` in steady state: ``warmup`` untimed calls, then the mean of
    ``repeat`` calls, the device synchronised before and after; and the last call's output."""
    if repeat < 1:
        raise ValueError(f'repeat must be >= 1, got {repeat}')
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeat, out


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` meanwhile, then restored: a benchmark run inside
    another program (a test) leaves its thread count as it found it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_LISTENERS: List['Stopwatch'] = []  # the stopwatches that take the library's stages


class Stopwatch:
    """Seconds per named stage, summed over calls; with a CUDA ``device`` the device is
    synchronised at each stage's start and end (so that queued work lands in its stage).

    Three ways in: ``with watch('load'): ...`` around code of the benchmark's own;
    :meth:`time_forward` (forward hooks) for an ``nn.Module``; :meth:`listen` for the steps
    library code marks with :func:`stage`.
    """

    def __init__(self, device: Any = 'cpu') -> None:
        self.device = device
        self.seconds: Dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        synchronize(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self.seconds[name] += time.perf_counter() - start

    def wrap(self, name: str, fn: Callable) -> Callable:
        """``fn`` timed under ``name`` at each call (for the benchmark's own call sites)."""
        def timed_fn(*args, **kwargs):
            with self(name):
                return fn(*args, **kwargs)
        return timed_fn

    @contextmanager
    def listen(self) -> Iterator['Stopwatch']:
        """Add the library's :func:`stage` marks to this stopwatch while inside."""
        _LISTENERS.append(self)
        try:
            yield self
        finally:
            _LISTENERS.remove(self)

    def time_forward(self, name: str, module: torch.nn.Module,
                     calls: Optional[List[Tuple[float, int]]] = None) -> Callable[[], None]:
        """Add each forward of ``module`` to ``name`` (forward hooks), and append (seconds,
        batch size: the length of its first tensor input) to ``calls`` when given. Returns a
        function that removes the hooks."""
        starts: List[float] = []

        def before(mod, args, kwargs) -> None:
            synchronize(self.device)
            starts.append(time.perf_counter())

        def after(mod, args, kwargs, output) -> None:
            synchronize(self.device)
            seconds = time.perf_counter() - starts.pop()
            self.seconds[name] += seconds
            if calls is not None:
                first = next((a for a in (*args, *kwargs.values())
                              if isinstance(a, torch.Tensor)), None)
                calls.append((seconds, 0 if first is None else len(first)))

        handles = [module.register_forward_pre_hook(before, with_kwargs=True),
                   module.register_forward_hook(after, with_kwargs=True)]

        def remove() -> None:
            for handle in handles:
                handle.remove()
        return remove


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark a step of library code (e.g. ``with stage('caa'):``) for the benchmark's
    :class:`Stopwatch` listening, if any; otherwise it does nothing (one list test)."""
    if not _LISTENERS:
        yield
        return
    with _LISTENERS[-1](name):
        yield


def count_syncs(fn: Callable[[], Any], device: Any) -> Optional[int]:
    """Times one call of ``fn`` makes the host wait for a CUDA device (CUDA's sync debug mode
    warns at each; the synchronisation after the call is not one of them); None elsewhere."""
    if not is_cuda(device):
        return None
    torch.cuda.set_sync_debug_mode('warn')
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            fn()
            torch.cuda.synchronize(device)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    return sum('synchroniz' in str(w.message) for w in caught)


# ---------------------------------------------------------------- random models and their outputs
def calibrate_random_sam(sam: torch.nn.Module) -> None:
    """Let a SAM with random weights (no checkpoint) pass the mask filters about as often as a
    trained one: random weights predict IoUs and mask logits near 0, so that no mask passes
    FMA-WSSS's filters (IoU > 0.86, stability >= 0.92 at offset 1.0) and the steps after them
    (upscaling, NMS, clean-up, encoding) would never run. The IoU head's output is raised by 0.82
    and the mask logits scaled by 300, after which about half the masks pass each filter; the
    masks stay random blobs, fewer and larger than a trained SAM's."""
    decoder = sam.mask_decoder
    with torch.no_grad():
        decoder.iou_prediction_head.layers[-1].bias.add_(0.82)
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(300)
            mlp.layers[-1].bias.mul_(300)


def mask_record_differences(ours: List[dict], reference: List[dict], tol: float) -> str:
    """How two lists of SAM mask records (the generators' 'coco_rle' output) differ beyond
    float rounding, '' if they do not: the same masks (RLE, level, click, crop, box, area), the
    predicted IoUs and stability scores within ``tol``, in the same order but for swaps of masks
    whose predicted IoUs lie within ``tol`` of each other (their order is the rounding's)."""
    def identity(m: dict) -> tuple:
        return (m['segmentation']['counts'], m.get('level'), tuple(m['point_coords'][0]),
                tuple(m['crop_box']), tuple(m['bbox']), m['area'])

    index = {identity(m): i for i, m in enumerate(reference)}
    if not len(index) == len(reference) == len(ours):
        return f'{len(ours)} masks against {len(reference)}'
    order = []
    for n, m in enumerate(ours):
        if identity(m) not in index:
            return f'mask {n} (click {m["point_coords"][0]}) is not among the reference masks'
        i = index[identity(m)]
        for key in ('predicted_iou', 'stability_score'):
            if abs(m[key] - reference[i][key]) >= tol:
                return f'mask {n}: {key} {m[key]} against {reference[i][key]}'
        order.append(i)
    for a in range(len(order)):
        for b in range(a + 1, len(order)):
            if order[a] > order[b] and \
                    abs(ours[a]['predicted_iou'] - ours[b]['predicted_iou']) >= 2 * tol:
                return f'masks {a} and {b} in the other order'
    return ''


# ---------------------------------------------------------------- memory
def _status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (Linux): VmRSS, VmHWM, ..."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


class PeakMemory:
    """Peak memory in bytes, since :meth:`start` or else since the process started.

    On a CUDA ``device``: ``torch.cuda.max_memory_allocated`` (:meth:`start` resets it). On the
    CPU: this process's peak resident set, VmHWM, which :meth:`start` lowers to the current
    resident set through /proc/self/clear_refs (Linux >= 4.0). Not ``ru_maxrss``: in a child
    that is at least the resident set of the parent that spawned it.
    """

    def __init__(self, device: Any = 'cpu') -> None:
        self.cuda, self.device = is_cuda(device), device
        self.base = 0

    def current(self) -> int:
        """The memory held now: CUDA's allocated bytes, or the resident set (VmRSS)."""
        if self.cuda:
            synchronize(self.device)
            return torch.cuda.memory_allocated(self.device)
        return _status_kib('VmRSS') * 1024

    def start(self) -> None:
        """Begin a window: the peak back to the memory held now, which becomes :attr:`base`."""
        if self.cuda:
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # VmHWM back to the current VmRSS
        self.base = self.current()

    def peak(self) -> int:
        """The highest memory held since :meth:`start` (or since the process started)."""
        if self.cuda:
            synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device)
        return _status_kib('VmHWM') * 1024

    def rise(self) -> int:
        """:meth:`peak` above :attr:`base`: what the work since :meth:`start` took at most."""
        return self.peak() - self.base


def _pss_kib(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            return next(int(line.split()[1]) for line in f if line.startswith('Pss:'))
    except (OSError, StopIteration):
        return 0


def _rss_kib(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/statm') as f:
            return int(f.read().split()[1]) * (os.sysconf('SC_PAGE_SIZE') // 1024)
    except (OSError, IndexError, ValueError):
        return 0


def _process_tree(pid: int) -> List[int]:
    out = [pid]
    try:
        for tid in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{tid}/children') as f:
                for child in f.read().split():
                    out += _process_tree(int(child))
    except OSError:
        pass
    return out


class ProcessTreePeak(threading.Thread):
    """The peak of the summed PSS of this process and its descendants (dataloader and pool
    workers), in a thread beside the work (Linux).

    Reading a process's PSS (``smaps_rollup``) walks its page tables: about 20 ms for a 1.7 GB
    process, so reading every process's every 50 ms would take a good part of a core from the
    work being timed. The summed RSS (``statm``, microseconds) is sampled every ``interval``
    seconds; PSS is read when that sum reaches a new high, and every ``pss_every`` seconds
    (pages that fork's copy-on-write duplicates raise PSS but not RSS). A peak shorter than
    ``interval`` can be missed.
    """

    def __init__(self, interval: float = 0.05, pss_every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.interval, self.pss_every = interval, pss_every
        self.peak_kib, self._done = 0, threading.Event()

    def run(self) -> None:
        top_rss, last = 0, 0.0
        while not self._done.is_set():
            pids = _process_tree(os.getpid())
            rss = sum(_rss_kib(p) for p in pids)
            if rss > top_rss or time.perf_counter() - last >= self.pss_every:
                top_rss, last = max(top_rss, rss), time.perf_counter()
                self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in pids))
            self._done.wait(self.interval)

    def stop(self) -> int:
        """End the sampling; the peak in bytes."""
        self._done.set()
        self.join()
        return self.peak_kib * 1024


# ---------------------------------------------------------------- child process
class ChildFailed(RuntimeError):
    """A measurement in a child process raised or died; the message holds its traceback and
    the end of its output."""


def _child_main(send, fn: Callable, args: tuple, kwargs: dict,
                mmap_threshold: Optional[int]) -> None:
    with tempfile.TemporaryFile('w+') as log:
        os.dup2(log.fileno(), 1)  # the child's output only where it fails
        os.dup2(log.fileno(), 2)
        if mmap_threshold is not None:
            ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        try:
            result = (True, fn(*args, **kwargs))
        except BaseException:  # noqa: BLE001  handed to the parent, which raises it
            log.flush()
            log.seek(0)
            result = (False, traceback.format_exc() + '\noutput:\n' + log.read()[-5000:])
        send.send(result)


_PRELOAD: List[str] = []  # what the fork server imports: preload_for_children


def preload_for_children(modules: List[str]) -> None:
    """Have the fork server of :func:`run_in_child` import ``modules``, so that its children
    start with them imported: a benchmark script run as a script gives '__main__' (its own
    imports), others give modules on the default ``sys.path`` (the server does not get the
    caller's additions). Takes effect only before the first child starts."""
    _PRELOAD.extend(m for m in modules if m not in _PRELOAD)
    multiprocessing.get_context('forkserver').set_forkserver_preload(list(_PRELOAD))


def run_in_child(fn: Callable, *args, mmap_threshold: Optional[int] = None, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` in a child process, and its (picklable) result; for memory
    measured from a fresh process's state, so that no earlier work's peak or freed heap counts.

    The child is forked from multiprocessing's fork server, a process that has run nothing of
    the caller's (no CUDA state, no heap): like a spawned process it imports ``fn``'s module
    itself, unless :func:`preload_for_children` had the server import modules first (their
    imports are then paid once, not per child, and their pages are shared with the server:
    right for memory measured as a rise, not for a process's whole RSS or PSS). ``fn`` must be
    a module-level function.
    ``mmap_threshold`` (bytes, glibc): allocations from that size on come from mmap and go back
    to the system when freed, so that the resident set follows the live tensors (stable
    figures) instead of heap kept from earlier work. The child's output is shown only when it
    fails: :class:`ChildFailed`, with its traceback and the end of its output.
    """
    ctx = multiprocessing.get_context('forkserver')
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(send, fn, args, kwargs, mmap_threshold))
    child.start()
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError:
        ok, value = False, 'it ended without a result'
    child.join()
    if not ok:
        raise ChildFailed(f'{fn.__name__} in a child process (exit code {child.exitcode}): '
                          f'{value}')
    return value
