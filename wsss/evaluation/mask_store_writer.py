"""Writes a TUSS stage's seeds and its per-mask store from mmengine's test loop."""
from typing import Optional, Sequence

import numpy as np

from ..io.mask_store import save_shard, shard_path
from ..io.mask_store import store_dir as default_store_dir
from ..registry import METRICS
from .seed_writer import SeedWriter


@METRICS.register_module()
class MaskStoreWriter(SeedWriter):
    """:class:`SeedWriter` that first writes each image's ``mask_store`` arrays (scores, class
    mask, and for the zero-shot stage the embeddings) to ``<store_dir>/<img_name>.npz``
    (default: ``mask_store/`` beside ``seed_dir``). The seed is written last, so an image whose
    seed exists has a complete store shard, and a rerun skips it. An image whose arrays hold
    NaN or infinite values gets neither (one failed.json entry): the steps after this one read
    every shard of the split, and one such shard would turn all their scores into NaN."""

    def __init__(self, seed_dir: str, store_dir: Optional[str] = None, **kwargs) -> None:
        super().__init__(seed_dir, **kwargs)
        self.store_dir = store_dir or default_store_dir(seed_dir)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'load_error' in sample:  # listed by SeedWriter.process
                continue
            not_numbers = [key for key, value in sample['mask_store'].items()
                           if np.issubdtype(np.asarray(value).dtype, np.floating)
                           and not np.isfinite(value).all()]
            if not_numbers:  # listed by SeedWriter.process, which then skips it
                sample['load_error'] = (f'its masks\' {", ".join(not_numbers)} are NaN or '
                                        'infinite (the model\'s output for this image is not '
                                        'numbers): not written')
                continue
            save_shard(shard_path(self.store_dir, sample['img_name']), sample['mask_store'])
        super().process(data_batch, data_samples)
