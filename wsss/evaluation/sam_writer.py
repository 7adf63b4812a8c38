"""Writes SAM masks from mmengine's test loop: the SAM-mask model's predictions become files."""
from typing import List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from ..datasets.transforms import ImageLoadError
from ..models.sam.store import mask_path, save_masks
from ..registry import METRICS
from .seed_writer import write_failed_list


@METRICS.register_module()
class SAMMaskWriter(BaseMetric):
    """Writes each image's masks to ``<mask_dir>/<img_name>.json`` (:func:`save_masks`).

    Files are written atomically, so an image counts as finished (for ``PendingSampler``) only
    once its file is complete. Each rank writes the images it was given; only their names are
    gathered, and their number is logged as ``sam_masks/written``. Images the loader could not
    decode are skipped and listed in ``failed_file``, as :class:`SeedWriter` does; with
    ``strict`` the first one stops the run.
    """

    default_prefix = 'sam_masks'

    def __init__(self, mask_dir: str, failed_file: Optional[str] = None, strict: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mask_dir, self.failed_file, self.strict = mask_dir, failed_file, strict

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'load_error' in sample:
                if self.strict:
                    raise ImageLoadError(f"{sample['load_error']} (--strict stops at the first "
                                         'bad image)')
                self.results.append(('failed', sample['img_path'], sample['load_error']))
                continue
            save_masks(mask_path(self.mask_dir, sample['img_name']), sample['sam_masks'],
                       sample['ori_shape'])
            self.results.append(('written', sample['img_name']))

    def compute_metrics(self, results: List[tuple]) -> dict:
        failed = [dict(file=r[1], reason=r[2]) for r in results if r[0] == 'failed']
        if self.failed_file:
            write_failed_list(self.failed_file, failed)
        return dict(written=sum(r[0] == 'written' for r in results), failed=len(failed))
