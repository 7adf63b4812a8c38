"""Writes SAM masks from mmengine's test loop: the SAM-mask model's predictions become files."""
from typing import Optional, Sequence

from ..io.sam_masks import mask_path, save_masks
from ..models.sam import finish_masks, unpack_dense
from ..registry import METRICS
from ..utils.workers import BoundedPool
from .job_writer import ImageJobWriter
from .rank_collect import clear_rank_files


@METRICS.register_module()
class SAMMaskWriter(ImageJobWriter):
    """Writes each image's masks to ``<mask_dir>/<img_name>.json`` (:func:`save_masks`).

    Files are written atomically, so an image counts as finished (for ``PendingSampler``) only
    once its file is complete. Each rank writes the images it was given; only their names are
    gathered (through files: a rank that finishes early waits outside any collective), and their
    number is logged as ``sam_masks/written``. Images the loader could not decode are skipped and
    listed in ``failed_file``, as :class:`SeedWriter` does; with ``strict`` the first one stops
    the run.

    Masks that the model left dense (``SAMMaskModel(defer_finish=True)``) are cleaned up,
    filtered and encoded (:func:`finish_masks`) in a :class:`BoundedPool` of ``workers`` CPU
    processes (None: the cores of this rank that the model leaves free), beside the model.
    """

    default_prefix = 'sam_masks'

    def __init__(self, mask_dir: str, failed_file: Optional[str] = None, strict: bool = False,
                 workers: Optional[int] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(failed_file, strict, collect_device=collect_device, prefix=prefix)
        self.mask_dir = mask_dir
        clear_rank_files(mask_dir)
        self.pool = BoundedPool(workers)
        self.pool.start()  # before the model runs: the workers share its weights, nothing more

    def collect_folder(self) -> str:
        return self.mask_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.skip_failed(sample):
                continue
            path = mask_path(self.mask_dir, sample['img_name'])
            if 'sam_dense' in sample:
                self.pool.submit(finish_and_save, path, sample['sam_dense'],
                                 sample['sam_finish'], sample['ori_shape'])
            else:
                save_masks(path, sample['sam_masks'], sample['ori_shape'])
            self.written(sample['img_name'])
        self.pool.finished()  # raises a worker's error

    def evaluate(self, size: int) -> dict:
        self.pool.close()
        return super().evaluate(size)


def finish_and_save(path: str, dense: dict, settings: dict, shape) -> None:
    """A worker's task: an image's masks finished (:func:`finish_masks`) and saved."""
    save_masks(path, finish_masks(unpack_dense(dense), **settings), shape)
