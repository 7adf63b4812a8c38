"""Samplers that skip finished work and shard the rest over ranks, each index exactly once."""
import logging
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from PIL import Image
from torch.utils.data import BatchSampler, Sampler

from ..io import incomplete, remove_stale_temp_files
from ..io.cams import cam_path
from ..io.images import image_size
from ..io.mask_store import shard_path, store_dir
from ..io.progress import JobProgress
from ..io.seeds import seed_path
from ..registry import DATA_SAMPLERS
from .mask_embeddings import MaskEmbeddingDataset

MAX_REPORTED = 10  # damaged files named in the log line


@DATA_SAMPLERS.register_module()
class PendingSampler(Sampler):
    """Yields, in dataset order, the indices of the images some of whose output files do not
    exist yet, rank r taking every world_size-th of them from r.

    ``out_files`` are path patterns with ``{img_name}``, e.g.
    ``'work_dirs/x/masks/{img_name}.json'``.
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
            out_files.append(cam_path(cam_dir, '{img_name}'))
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


@DATA_SAMPLERS.register_module()
class PendingMaskStoreSampler(PendingSampler):
    """:class:`PendingSampler` of a TUSS stage: an image is finished when its seed and its store
    shard exist; the temp files a killed run left in either folder are removed first."""

    def __init__(self, dataset: BaseDataset, seed_dir: str, cam_dir: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        if cam_dir:
            raise ValueError('TUSS stages write no CAMs: drop --save-cams')
        super().__init__(dataset, [seed_path(seed_dir, '{img_name}'),
                                   shard_path(store_dir(seed_dir), '{img_name}')], seed)


@DATA_SAMPLERS.register_module()
class GlobalBatchSampler(BatchSampler):
    """Batches of ``batch_size / world_size`` per process: a step of a distributed run trains on
    ``batch_size`` samples (the recipe's "1xb512": 512 masks a step at lr 0.02) whatever the
    number of GPUs, so the iteration counts and the learning rate stay the recipe's.

    ``train_dataloader = dict(batch_size=512, batch_sampler=dict(type='GlobalBatchSampler'))``:
    mmengine passes the sampler (which shards the indices over the processes) and batch_size.
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = True) -> None:
        _, world_size = get_dist_info()
        if batch_size % world_size:
            raise ValueError(f'the global batch of {batch_size} does not split over '
                             f'{world_size} processes: set train_dataloader.batch_size to a '
                             f'multiple of {world_size}')
        super().__init__(sampler, batch_size // world_size, drop_last)
        self.global_batch_size = batch_size


@DATA_SAMPLERS.register_module()
class SemiBalanceSampler(Sampler):
    """Dual-stream sampling of semi supervision (§6): an unlabelled and a labelled mask in turn
    (u, l, u, l, …), so half of every even batch is labelled; each stream is reshuffled when it
    runs out (the smaller labelled set is repeated). Endless, as mmengine's ``InfiniteSampler``;
    process r of a distributed run takes every world_size-th pair, from pair r.

    Args:
        dataset: a :class:`MaskEmbeddingDataset` with labelled and unlabelled masks.
        seed: the shuffles' seed.
    """

    def __init__(self, dataset: MaskEmbeddingDataset, seed: int = 0) -> None:
        labelled = np.asarray(getattr(dataset, 'labelled', ()), bool)
        self.streams = [np.flatnonzero(~labelled), np.flatnonzero(labelled)]
        if not all(len(s) for s in self.streams):
            raise ValueError('SemiBalanceSampler needs labelled and unlabelled masks: the mask '
                             'store of train_dataloader.dataset.embeddings_from has '
                             f'{len(self.streams[1])} labelled and {len(self.streams[0])} '
                             'unlabelled; use the InfiniteSampler for one kind')
        self.rank, self.world_size = get_dist_info()
        self.seed = seed

    def _stream(self, indices: np.ndarray, gen: torch.Generator) -> Iterator[int]:
        while True:
            yield from indices[torch.randperm(len(indices), generator=gen).numpy()].tolist()

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed)
        unlabelled, labelled = (self._stream(s, gen) for s in self.streams)
        pair = 0
        while True:
            u, lab = next(unlabelled), next(labelled)
            if pair % self.world_size == self.rank:
                yield u
                yield lab
            pair += 1

    def __len__(self) -> int:
        return 2 * len(self.streams[0]) // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Endless: one epoch (DistSamplerSeedHook calls this)."""
