"""What the writers of every job that walks a dataset share (seeds of every method, SAM masks,
TUSS steps, stage-two submission files): a sample whose image or per-image input could not be
read does not end the job. The model leaves it untouched with ``load_error`` in its metainfo
(``LoadImage(record_errors=True)`` sets it for an undecodable image, a model for an unreadable
SAM-mask or store file); the writer lists it in ``<work_dir>/failed.json``, and the tool prints
the list and exits 1. ``strict`` stops at the first."""
import json
import os
import os.path as osp
from typing import List, Optional

from ..datasets.transforms import ImageLoadError
from ..io import atomic_write
from ..io.progress import JobProgress
from .rank_collect import FileCollectMetric

MAX_LISTED = 20  # failures printed on the console; failed.json holds all


class ImageJobWriter(FileCollectMetric):
    """Base of the writers: :meth:`skip_failed` for each sample, and ``written`` / ``failed``
    counts as the metrics, the failed ones written to ``failed_file`` as
    ``[{"file": image path, "reason": message}, ...]`` (removed when a run has none). The ranks'
    results are gathered through files in :meth:`collect_folder` (:class:`FileCollectMetric`),
    so a rank that finishes early waits outside any collective."""

    def __init__(self, failed_file: Optional[str] = None, strict: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.failed_file, self.strict = failed_file, strict

    def skip_failed(self, sample: dict) -> bool:
        """Whether ``sample`` failed (then it is listed); with ``strict`` raise instead."""
        if 'load_error' not in sample:
            return False
        self.failed(sample['img_path'], sample['load_error'])
        return True

    def failed(self, img_path: str, reason: str) -> None:
        """List an image that failed; with ``strict`` raise instead."""
        if self.strict:
            raise ImageLoadError(f'{reason} (--strict stops at the first bad image)')
        self.results.append(('failed', img_path, reason))
        JobProgress.advance()

    def written(self, name: str, *details) -> None:
        """Count an image written; ``details`` (picklable) go with it to
        :meth:`compute_metrics`: one result per image, as mmengine's collection expects."""
        self.results.append(('written', name, *details))
        JobProgress.advance()

    def compute_metrics(self, results: List[tuple]) -> dict:
        failed = [dict(file=r[1], reason=r[2]) for r in results if r[0] == 'failed']
        if self.failed_file:
            write_failed_list(self.failed_file, failed)
        return dict(written=sum(r[0] == 'written' for r in results), failed=len(failed))


def write_failed_list(path: str, failed: List[dict]) -> None:
    """``[{"file", "reason"}, ...]`` as JSON, atomically; no failures remove an older list."""
    if not failed:
        if osp.isfile(path):
            os.remove(path)
        return
    with atomic_write(path, 'w') as f:
        json.dump(failed, f, indent=1)


def print_failed_list(path: str) -> None:
    """Print the images of a :func:`write_failed_list` file, one a line (the first
    ``MAX_LISTED``)."""
    with open(path) as f:
        failed = json.load(f)
    print(f'\n{len(failed)} images could not be read (listed in {path}); the others are '
          'written:')
    for item in failed[:MAX_LISTED]:
        print(f"  {item['file']}: {item['reason']}")
    if len(failed) > MAX_LISTED:
        print(f'  ... and {len(failed) - MAX_LISTED} more')
