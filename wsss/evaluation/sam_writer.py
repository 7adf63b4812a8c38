"""Writes SAM masks from mmengine's test loop: the SAM-mask model's predictions become files."""
from typing import List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from ..models.sam.store import mask_path, save_masks
from ..registry import METRICS


@METRICS.register_module()
class SAMMaskWriter(BaseMetric):
    """Writes each image's masks to ``<mask_dir>/<img_name>.json`` (:func:`save_masks`).

    Files are written atomically, so an image counts as finished (for ``PendingSampler``) only
    once its file is complete. Each rank writes the images it was given; only their names are
    gathered, and their number is logged as ``sam_masks/written``.
    """

    default_prefix = 'sam_masks'

    def __init__(self, mask_dir: str, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mask_dir = mask_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            save_masks(mask_path(self.mask_dir, sample['img_name']), sample['sam_masks'],
                       sample['ori_shape'])
            self.results.append(sample['img_name'])

    def compute_metrics(self, results: List[str]) -> dict:
        return dict(written=len(results))
