"""The end of a long distributed writing job without a rank waiting in a collective.

mmengine's ``BaseMetric.evaluate`` gathers every rank's results in a collective; a rank that
finishes its share of a multi-hour SAM or seed job early waits in it, and dies when the others
take longer than the process group's timeout. :class:`FileCollectMetric` gathers through files
instead: each rank writes its results to ``<out_dir>/.ranks/<world>-<rank>.pkl`` and polls
until every rank's file is there, then takes the collectives it needs (all ranks present: they
return at once). The output folder is shared by the ranks anyway (finished images are looked up
there), as mmengine's own CPU collect assumes of its temp folder. Rank files that a killed
run left behind are removed when the writer is built (:func:`clear_rank_files`).
"""
import os
import os.path as osp
import pickle
import time
from typing import Any, List, Optional

from mmengine.dist import barrier, broadcast_object_list, get_dist_info, is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..io import atomic_write

RANK_DIR = '.ranks'


def _rank_file(folder: str, rank: int, world: int) -> str:
    return osp.join(folder, f'{world}-{rank}.pkl')


def gather_by_files(results: List[Any], out_dir: str, poll_s: float = 5.0,
                    log_every_s: float = 600.0) -> List[Any]:
    """Every rank's ``results``, rank 0's first, gathered through files in ``out_dir`` (see the
    module's docstring); a single process returns its own. Waits without a time limit (a rank
    that dies ends the job through its launcher), logging the missing ranks every
    ``log_every_s``."""
    rank, world = get_dist_info()
    if world == 1:
        return list(results)
    folder = osp.join(out_dir, RANK_DIR)
    os.makedirs(folder, exist_ok=True)
    with atomic_write(_rank_file(folder, rank, world)) as f:
        pickle.dump(list(results), f)
    start = last_log = time.monotonic()
    while True:
        missing = [r for r in range(world) if not osp.exists(_rank_file(folder, r, world))]
        if not missing:
            break
        if time.monotonic() - last_log >= log_every_s:
            last_log = time.monotonic()
            print_log(f'rank {rank} finished, waiting {last_log - start:.0f} s for ranks '
                      f'{missing}', logger='current')
        time.sleep(poll_s)
    gathered = []
    for r in range(world):
        with open(_rank_file(folder, r, world), 'rb') as f:
            gathered.extend(pickle.load(f))
    barrier()  # every rank has read every file (all present: returns at once)
    if rank == 0:
        for r in range(world):
            os.remove(_rank_file(folder, r, world))
        os.rmdir(folder)
    return gathered


def clear_rank_files(out_dir: str) -> None:
    """Rank 0 removes the rank files a killed run left in ``out_dir``, before any rank can write
    its own (a barrier, taken by all ranks while the job is built)."""
    folder = osp.join(out_dir, RANK_DIR)
    if is_main_process() and osp.isdir(folder):
        for name in os.listdir(folder):
            os.remove(osp.join(folder, name))
    barrier()


class FileCollectMetric(BaseMetric):
    """A :class:`BaseMetric` whose ``evaluate`` gathers the ranks' results with
    :func:`gather_by_files` in :meth:`collect_folder` instead of a collective; rank 0 computes
    the metrics, which all ranks return. A subclass calls :func:`clear_rank_files` on that
    folder when it is built."""

    def collect_folder(self) -> Optional[str]:
        """The folder, visible to every rank, that the rank files go to."""
        raise NotImplementedError

    def evaluate(self, size: int) -> dict:
        results = gather_by_files(self.results, self.collect_folder())
        metrics = [None]
        if is_main_process():
            metrics = [self.compute_metrics(results)]
            if self.prefix:
                metrics = [{f'{self.prefix}/{k}': v for k, v in metrics[0].items()}]
        broadcast_object_list(metrics)
        self.results.clear()
        return metrics[0]
