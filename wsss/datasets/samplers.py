"""Samplers that skip finished work and shard the rest over ranks, each index exactly once."""
import logging
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from PIL import Image
from torch.utils.data import Sampler

from ..io import incomplete, remove_stale_temp_files
from ..io.progress import JobProgress
from ..registry import DATA_SAMPLERS
from .seeds import image_size, seed_path

MAX_REPORTED = 10  # damaged files named in the log line


@DATA_SAMPLERS.register_module()
class PendingSampler(Sampler):
    """Yields, in dataset order, the indices of the images some of whose output files do not
    exist yet, rank r taking every world_size-th of them from r.

    ``out_files`` are path patterns with ``{img_name}``, e.g. ``'work_dirs/x/masks/{img_name}.json'``.
    An output counts only when it is complete (:func:`wsss.io.incomplete`: its format's end is
    there); damaged ones (cut short by a kill, a full disk, a cut copy) are redone, and logged.
    Unlike mmengine's DefaultSampler it never pads the last shard, so a distributed run handles
    each image exactly once, and a rerun after a crash redoes nothing that was finished. Every rank
    lists the pending images before any starts writing (a barrier follows); before that, they
    remove the temp files a killed run left in the output folders.

    ``group_by_size`` orders the pending images by their size (height, width, read from the file
    headers), then by their number of labels (stable, so dataset order within those) before
    sharding, so that a batch holds images of one size that the model can stack
    (``model.images_per_forward``) and similar label counts (its backward runs once per class
    slot of the image with the most labels); every rank sorts the same list, so each image is
    still handled once.
    """

    def __init__(self, dataset: BaseDataset, out_files: Sequence[str],
                 seed: Optional[int] = None, group_by_size: bool = False) -> None:
        if not out_files:
            raise ValueError('PendingSampler needs the output files it waits for (out_files)')
        self.rank, self.world_size = get_dist_info()
        for folder in {osp.dirname(p) for p in out_files}:
            remove_stale_temp_files(folder)
        names = (dataset.get_data_info(i)['img_name'] for i in range(len(dataset)))
        self.pending: List[int] = []
        damaged: List[str] = []
        for i, name in enumerate(names):
            problems = [(p, incomplete(p)) for p in (f.format(img_name=name) for f in out_files)]
            problems = [(p, why) for p, why in problems if why is not None]
            if problems:
                self.pending.append(i)
                damaged += [f'{p} ({why})' for p, why in problems if why != 'missing']
        if damaged and self.rank == 0:
            print_log(f'redoing {len(damaged)} damaged output file{"s" * (len(damaged) > 1)}: '
                      + '; '.join(damaged[:MAX_REPORTED])
                      + (f'; ... and {len(damaged) - MAX_REPORTED} more'
                         if len(damaged) > MAX_REPORTED else ''), logger='current',
                      level=logging.WARNING)
        self.damaged = damaged
        JobProgress.start(total=len(dataset), done=len(dataset) - len(self.pending))
        if group_by_size:
            self.pending.sort(key=lambda i: size_then_labels(dataset.get_data_info(i)))
        barrier()

    def __iter__(self) -> Iterator[int]:
        return iter(self.pending[self.rank::self.world_size])

    def __len__(self) -> int:
        return len(self.pending[self.rank::self.world_size])


@DATA_SAMPLERS.register_module()
class PendingSeedSampler(PendingSampler):
    """:class:`PendingSampler` over seeds ``<seed_dir>/<img_name>.png`` and, with ``cam_dir``,
    CAM files ``<cam_dir>/<img_name>.npz``; ``seed_dir=None``: over the CAM files alone (a job
    that writes CAMs only)."""

    def __init__(self, dataset: BaseDataset, seed_dir: Optional[str],
                 cam_dir: Optional[str] = None, seed: Optional[int] = None,
                 group_by_size: bool = False) -> None:
        out_files = [seed_path(seed_dir, '{img_name}')] if seed_dir else []
        if cam_dir:
            out_files.append(osp.join(cam_dir, '{img_name}.npz'))
        super().__init__(dataset, out_files, seed, group_by_size)


def size_then_labels(info: dict) -> Tuple[Tuple[int, int], int]:
    """The sort key of ``group_by_size``: the image's size, then its number of labels."""
    labels = info.get('img_labels')
    return sort_key_size(info['img_path']), 0 if labels is None else int(np.sum(labels))


def sort_key_size(path: str) -> Tuple[int, int]:
    """:func:`image_size` of a file, (0, 0) when it cannot be read (the loader reports such files;
    the size only orders the work)."""
    try:
        return image_size(path)
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0, 0
