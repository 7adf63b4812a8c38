"""Stage two's test metric: mmseg's IoUMetric numbers, and the metric files of the run."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..io.seeds import write_label_map
from ..registry import METRICS
from .metrics_files import write_metrics
from .seed_eval import SegStats, format_table, image_counts


@METRICS.register_module()
class SegMetric(BaseMetric):
    """aAcc, mIoU and mAcc (percent, as mmseg's ``IoUMetric``: the same counts, GT pixels of
    255 ignored), with the per-class table in the log; with ``out_dir``, ``metrics.json`` and
    ``per_image.csv`` there (:mod:`wsss.evaluation.metrics_files`); with ``output_dir``, each
    prediction as a VOC-palette PNG ``<img_name>.png`` (the report's gallery shows them).

    Each image keeps only the non-zero cells of its confusion counts (a few per class present),
    which the ranks gather at the end: memory grows with images × classes per image.
    """

    def __init__(self, out_dir: Optional[str] = None, output_dir: Optional[str] = None,
                 iou_metrics: Sequence[str] = ('mIoU',), collect_device: str = 'cpu',
                 prefix: Optional[str] = None, **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if list(iou_metrics) != ['mIoU']:
            raise ValueError(f'SegMetric computes mIoU (with aAcc and mAcc), not {iou_metrics}')
        self.out_dir, self.output_dir = out_dir, output_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        n = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy().astype(np.uint8)
            gt = sample['gt_sem_seg']['data'].squeeze(0).cpu().numpy().astype(np.uint8)
            name = sample.get('img_name') or osp.splitext(osp.basename(sample['img_path']))[0]
            counts = image_counts(pred, gt, n)
            cells = np.flatnonzero(counts)
            self.results.append((name, sample.get('img_path', ''),
                                 sample.get('seg_map_path', ''), cells, counts.flat[cells]))
            if self.output_dir:
                write_label_map(osp.join(self.output_dir, name + '.png'), pred)

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        classes = self.dataset_meta['classes']
        n = len(classes)
        stats = SegStats(n)
        for name, _, _, cells, values in results:
            counts = np.zeros(n * (n + 1), np.int64)
            counts[cells] = values
            stats.add_counts(counts.reshape(n, n + 1), name)
        print_log('per-class results:\n' + format_table(stats, classes), logger='current')
        if self.out_dir:
            write_metrics(self.out_dir, stats, classes, 'stage_two', predictions=self.output_dir,
                          image_paths={r[0]: (r[1], r[2]) for r in results})
        return dict(aAcc=round(100 * stats.accuracy, 2), mIoU=round(100 * stats.miou, 2),
                    mAcc=round(100 * stats.mean_accuracy, 2))
