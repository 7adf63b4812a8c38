"""Writes SAM masks from mmengine's test loop: the SAM-mask model's predictions become files."""
from typing import Optional, Sequence

from ..models.sam.store import mask_path, save_masks
from ..registry import METRICS
from .job_writer import ImageJobWriter


@METRICS.register_module()
class SAMMaskWriter(ImageJobWriter):
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
        super().__init__(failed_file, strict, collect_device=collect_device, prefix=prefix)
        self.mask_dir = mask_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.skip_failed(sample):
                continue
            save_masks(mask_path(self.mask_dir, sample['img_name']), sample['sam_masks'],
                       sample['ori_shape'])
            self.written(sample['img_name'])
