"""Writes seeds from mmengine's test loop: the stage-one model's predictions become files."""
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import mmcv
from mmengine.evaluator import BaseMetric

from ..datasets.seeds import confidence_path, seed_path, write_confidence, write_label_map
from ..registry import METRICS
from ..visualization import cam_heatmaps, seed_overlay
from .seed_eval import save_cams


@METRICS.register_module()
class SeedWriter(BaseMetric):
    """Writes, per image, the seed ``<seed_dir>/<img_name>.png``, its confidence
    ``<img_name>_conf.png`` and, with ``cam_dir``, its CAMs ``<cam_dir>/<img_name>.npz``; with
    ``show_dir``, pictures of the CAMs (with the clicks of a click seeder) and the seed.

    Every file is written atomically and the seed last, so an image counts as finished (for
    :class:`PendingSeedSampler`) only once all its files are complete. Each rank writes the images
    it was given; nothing is gathered but their names. Seed quality is measured afterwards from
    the files (tools/eval_seeds.py), over the whole split, resumed runs included.
    """

    default_prefix = 'seeds'

    def __init__(self, seed_dir: str, cam_dir: Optional[str] = None,
                 show_dir: Optional[str] = None, save_confidence: bool = True,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.seed_dir, self.cam_dir, self.show_dir = seed_dir, cam_dir, show_dir
        self.save_confidence = save_confidence

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            name = sample['img_name']
            seed = sample['pred_sem_seg']['data'][0].cpu().numpy()
            if self.cam_dir:
                save_cams(osp.join(self.cam_dir, name + '.npz'), sample['cam_class_ids'],
                          sample['cams']['data'].cpu().numpy())
            if self.save_confidence:
                write_confidence(confidence_path(self.seed_dir, name),
                                 sample['seed_confidence']['data'][0].cpu().numpy())
            if self.show_dir:
                self._show(sample, seed)
            write_label_map(seed_path(self.seed_dir, name), seed)
            self.results.append(name)

    def _show(self, sample: dict, seed) -> None:
        classes = self.dataset_meta['classes'] if self.dataset_meta else [
            str(i) for i in range(256)]
        image = mmcv.imread(sample['img_path'])
        cams = sample['cams']['data'].float().cpu().numpy()
        base = osp.join(self.show_dir, sample['img_name'])
        os.makedirs(osp.dirname(base), exist_ok=True)
        cv2.imwrite(base + '_cams.png', cam_heatmaps(
            image, cams, [classes[c] for c in sample['cam_class_ids']],
            points=sample.get('clicks')))
        cv2.imwrite(base + '_seed.png', seed_overlay(image, seed, classes))

    def compute_metrics(self, results: List[str]) -> dict:
        return dict(written=len(results))
