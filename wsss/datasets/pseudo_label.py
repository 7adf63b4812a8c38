"""Stage-two training data: the images of any wsss dataset with seeds in place of GT masks."""
import copy
import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset

from ..io.seeds import confidence_path, seed_path
from ..registry import DATASETS


@DATASETS.register_module()
class PseudoLabelDataset(BaseSegDataset):
    """The samples of ``dataset`` (a wsss dataset config) whose label maps are the seeds in
    ``seed_dir`` (``<img_name>.png``). Validation uses the plain dataset and its GT.

    Args:
        dataset: config of the source dataset (its own pipeline is ignored).
        seed_dir: folder of seed PNGs, as written by tools/generate_seeds.py.
        confidence_threshold: confidence-guided loss (CGL): pixels whose confidence
            (``<img_name>_conf.png`` beside the seed) is below it become 255, so cross-entropy
            ignores them. ``None`` uses the seeds as they are. A seed without a confidence file
            is used as it is.
    """

    def __init__(self, dataset: dict, seed_dir: str, confidence_threshold: Optional[float] = None,
                 **kwargs) -> None:
        if confidence_threshold is not None and not 0 <= confidence_threshold <= 1:
            raise ValueError(f'confidence_threshold must be in [0, 1], got {confidence_threshold}')
        self.source = DATASETS.build(dict(copy.deepcopy(dataset), pipeline=[], lazy_init=True))
        self.seed_dir = seed_dir
        self.confidence_threshold = confidence_threshold
        metainfo = dict(classes=self.source.metainfo['classes'],
                        palette=self.source.metainfo['palette'])
        super().__init__(metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        self.source.full_init()
        data_list, missing = [], []
        for i in range(len(self.source)):
            info = self.source.get_data_info(i)
            info.pop('sample_idx', None)
            info['seg_map_path'] = seed_path(self.seed_dir, info['img_name'])
            info['label_map'] = None  # seeds hold this dataset's class ids already
            if not osp.isfile(info['seg_map_path']):
                missing.append(info['seg_map_path'])
            if self.confidence_threshold is not None:
                conf = confidence_path(self.seed_dir, info['img_name'])
                if osp.isfile(conf):
                    info['conf_path'] = conf
                    info['conf_threshold'] = self.confidence_threshold
            data_list.append(info)
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of {len(data_list)} seeds are missing from {self.seed_dir} '
                f'(first: {missing[0]}): generate them with tools/generate_seeds.py, or set '
                'seed_dir')
        return data_list
