"""Benchmark submission files from the test loop (``tools/test.py --format-only --out DIR``).

The PASCAL VOC evaluation server takes a tar of
``results/VOC2012/Segmentation/comp6_test_cls/<image id>.png``: one palette PNG (VOC palette,
class ids 0..20) per test image, at the image's size; ``comp6`` is the competition for methods
trained with data beyond VOC, as every method here is (ImageNet backbones, CLIP, SAM). COCO
has no semantic-segmentation server in this setting; its predictions are written as PNGs of the
same kind, ``<img_name>.png``.
"""
import os.path as osp
import tarfile
from typing import Dict, List, Optional, Sequence

from ..io import atomic_write
from ..io.seeds import write_label_map
from ..registry import METRICS
from .job_writer import ImageJobWriter
from .rank_collect import clear_rank_files

LAYOUTS = ('voc12_server', 'flat')


def voc_server_dir(out_dir: str) -> str:
    """The folder the VOC server reads the PNGs from, under ``out_dir``."""
    return osp.join(out_dir, 'results', 'VOC2012', 'Segmentation', 'comp6_test_cls')


@METRICS.register_module()
class PredictionWriter(ImageJobWriter):
    """Writes each prediction as a VOC-palette PNG ``<img_name>.png`` at the image's size and
    computes no metric (no GT is needed).

    Args:
        out_dir: where the files go.
        layout: ``'voc12_server'``: under ``results/VOC2012/Segmentation/comp6_test_cls/``,
            then ``<out_dir>/results.tgz`` of the ``results`` folder, the file to upload;
            ``'flat'``: directly under ``out_dir``.

    Each rank writes the images it was given (atomically); rank 0 packs the tar once every rank
    has finished. Images that could not be decoded are listed in ``failed_file``
    (:class:`ImageJobWriter`); ``strict`` stops at the first.
    """

    default_prefix = 'format_only'

    def __init__(self, out_dir: str, layout: str = 'flat', failed_file: Optional[str] = None,
                 strict: bool = False, collect_device: str = 'cpu', prefix=None) -> None:
        super().__init__(failed_file, strict, collect_device=collect_device, prefix=prefix)
        if layout not in LAYOUTS:
            raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
        self.out_dir, self.layout = out_dir, layout
        self.png_dir = voc_server_dir(out_dir) if layout == 'voc12_server' else out_dir
        clear_rank_files(out_dir)

    def collect_folder(self) -> str:
        return self.out_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.skip_failed(sample):
                continue
            name = sample.get('img_name') or osp.splitext(osp.basename(sample['img_path']))[0]
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy()
            write_label_map(osp.join(self.png_dir, name + '.png'), pred)
            self.written(name)

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        counts = super().compute_metrics(results)
        if self.layout == 'voc12_server':
            archive = osp.join(self.out_dir, 'results.tgz')
            with atomic_write(archive) as f, tarfile.open(fileobj=f, mode='w:gz') as tar:
                tar.add(osp.join(self.out_dir, 'results'), arcname='results')
            print(f'{counts["written"]} predictions in {self.png_dir}; upload {archive} to the '
                  'VOC evaluation server')  # compute_metrics runs on rank 0 only
        else:
            print(f'{counts["written"]} predictions in {self.png_dir}')
        return counts
