"""Writes a TUSS stage's seeds and its per-mask store from mmengine's test loop."""
from typing import Optional, Sequence

from ..io.mask_store import save_shard, shard_path
from ..io.mask_store import store_dir as default_store_dir
from ..registry import METRICS
from .seed_writer import SeedWriter


@METRICS.register_module()
class MaskStoreWriter(SeedWriter):
    """:class:`SeedWriter` that first writes each image's ``mask_store`` arrays (scores, class
    mask, and for the zero-shot stage the embeddings) to ``<store_dir>/<img_name>.npz``
    (default: ``mask_store/`` beside ``seed_dir``). The seed is written last, so an image whose
    seed exists has a complete store shard, and a rerun skips it."""

    def __init__(self, seed_dir: str, store_dir: Optional[str] = None, **kwargs) -> None:
        super().__init__(seed_dir, **kwargs)
        self.store_dir = store_dir or default_store_dir(seed_dir)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'load_error' in sample:  # listed by SeedWriter.process
                continue
            save_shard(shard_path(self.store_dir, sample['img_name']), sample['mask_store'])
        super().process(data_batch, data_samples)
