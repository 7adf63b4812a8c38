"""A sampler that skips finished work and shards the rest over ranks, each index exactly once."""
import os.path as osp
from typing import Iterator, List, Optional

from mmengine.dataset import BaseDataset
from mmengine.dist import barrier, get_dist_info
from torch.utils.data import Sampler

from ..registry import DATA_SAMPLERS
from .seeds import remove_stale_temp_files, seed_path


@DATA_SAMPLERS.register_module()
class PendingSeedSampler(Sampler):
    """Yields, in dataset order, the indices of the images whose seed (and, with ``cam_dir``,
    CAM file) is not written yet, rank r taking every world_size-th of them from r.

    Unlike mmengine's DefaultSampler it never pads the last shard, so a distributed run writes
    each image exactly once, and a rerun after a crash redoes nothing that was finished. Every
    rank lists the pending images before any rank starts writing (a barrier follows).
    """

    def __init__(self, dataset: BaseDataset, seed_dir: str, cam_dir: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        for folder in (seed_dir, cam_dir):
            if folder:
                remove_stale_temp_files(folder)
        names = (dataset.get_data_info(i)['img_name'] for i in range(len(dataset)))
        self.pending: List[int] = [
            i for i, name in enumerate(names)
            if not osp.isfile(seed_path(seed_dir, name))
            or (cam_dir is not None and not osp.isfile(osp.join(cam_dir, name + '.npz')))
        ]
        self.num_total = len(dataset)
        barrier()

    def __iter__(self) -> Iterator[int]:
        return iter(self.pending[self.rank::self.world_size])

    def __len__(self) -> int:
        return len(self.pending[self.rank::self.world_size])
