"""Stage-one inference on one image: the model and the seed that tools/generate_seeds.py would give
it, for tools/demo.py and notebooks."""
import copy
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.runner import load_checkpoint, set_random_seed
from torch import nn

from ..datasets.class_names import with_background
from ..datasets.transforms import ImageLoadError
from ..engine import check_class_count
from ..models.clip_es.model import CLIPCAMModel
from ..models.relevancy.model import CLIPRelevancyModel
from ..registry import DATASETS, MODELS
from ..utils import register_all_modules
from .config import load_config

# the models that seed one image from its labels (FMAPromptModel is a CLIPCAMModel)
SEED_MODELS = (CLIPCAMModel, CLIPRelevancyModel)


class StageOneResult(NamedTuple):
    """What the stage-one model gives one image, at the image's size."""
    cams: np.ndarray        # (K, H, W) float32 in [0, 1], one per labelled class
    class_ids: List[int]    # the class id (1..C) of each CAM, ascending
    seed: np.ndarray        # (H, W) uint8: 0 background, class ids, 255 ignore
    confidence: np.ndarray  # (H, W) float32 in [0, 1]


def dataset_classes(cfg: Config) -> Tuple[str, ...]:
    """The class names (background first) of the config's test dataset, without reading its
    files: the ``classes`` it is given (ImageFolderDataset) or its type's METAINFO."""
    dataset = cfg.test_dataloader.dataset
    if dataset.get('classes'):
        return with_background(dataset.classes)
    dataset_type = DATASETS.get(dataset.type)
    if dataset_type is None:
        raise ValueError(f'unknown dataset type {dataset.type!r} in the config')
    return tuple(dataset_type.METAINFO['classes'])


def match_classes(classes: Sequence[str], names: Sequence[str]) -> List[int]:
    """Ids (ascending, 1..C) of foreground class ``names`` in ``classes`` (background first);
    case and surrounding spaces do not matter. An unknown name is an error listing the valid
    ones."""
    index = {name.lower(): i for i, name in enumerate(classes) if i > 0}
    ids = set()
    for name in names:
        key = name.strip().lower()
        if key not in index:
            raise ValueError(f'unknown class {name!r}; the classes are: '
                             f'{", ".join(classes[1:])}')
        ids.add(index[key])
    return sorted(ids)


def init_stage_one(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: str = 'cpu', cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a config's stage-one model as tools/generate_seeds.py's Runner does, so both give the
    same seeds: the config's random seed first (a tiny random CLIP then gets the same weights),
    then the weights of ``checkpoint`` or else of the config's ``load_from`` (learned prompts),
    loaded non-strictly like the Runner. The model is in eval mode on ``device`` and keeps the
    config as ``model.cfg`` and the dataset's classes in ``model.dataset_meta``, as mmseg's
    ``init_model`` does."""
    register_all_modules()
    cfg = load_config(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    classes = dataset_classes(cfg)
    model_type = MODELS.get(cfg.model.type)
    if not (isinstance(model_type, type) and issubclass(model_type, SEED_MODELS)):
        raise ValueError(f'config {cfg.filename}: model {cfg.model.type!r} is not a stage-one '
                         'model (CLIPCAMModel, FMAPromptModel, CLIPRelevancyModel)')
    if cfg.get('randomness'):
        set_random_seed(**cfg.randomness)
    model = MODELS.build(cfg.model)
    check_class_count(model, classes, cfg.filename, cfg.test_dataloader.dataset.type)
    checkpoint = checkpoint or cfg.get('load_from')
    if checkpoint:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint} not found: train it with '
                                    'tools/train.py, or give another')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    model.cfg = cfg
    model.dataset_meta = dict(classes=classes)
    return model.to(device).eval()


def seed_image(model: nn.Module, img_path: str, class_names: Sequence[str],
               img_name: Optional[str] = None) -> StageOneResult:
    """CAMs, seed and confidence of one image labelled with ``class_names``, through the config's
    test pipeline and the model's test step, as in tools/generate_seeds.py.

    The image is given by path, not as an array: the pipeline loads it as the dataset does, and
    seeders read per-image files (the CRF the image itself, SAMS the masks
    ``<model.seeder.mask_dir>/<img_name>.json``). ``img_name`` defaults to the file's stem.
    """
    classes = model.dataset_meta['classes']
    labels = np.zeros(len(classes) - 1, np.uint8)
    labels[np.array(match_classes(classes, class_names), int) - 1] = 1
    pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    data = pipeline(dict(
        img_path=img_path, img_labels=labels, num_classes=len(classes), seg_fields=[],
        img_name=img_name or osp.splitext(osp.basename(img_path))[0]))
    with torch.no_grad():
        sample, = model.test_step(pseudo_collate([data]))
    if 'load_error' in sample.metainfo:  # the model could not read the image or its inputs
        raise ImageLoadError(sample.metainfo['load_error'])
    return StageOneResult(
        cams=sample.cams.data.float().cpu().numpy(),
        class_ids=list(sample.metainfo['cam_class_ids']),
        seed=sample.pred_sem_seg.data[0].cpu().numpy(),
        confidence=sample.seed_confidence.data[0].cpu().numpy())
