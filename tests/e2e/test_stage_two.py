"""Stage two: every stage-two config trained for two iterations on tiny VOC / COCO trees (seeds ->
GT val mIoU), and a longer run on seeds with ignored pixels whose loss falls (DeepLab-v2's ASPP
head by hand: tests/unit/models/test_aspp_v2_head.py)."""
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest
from conftest import COCO, ROOT, _rle, coco_category_ids
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from wsss.datasets.class_names import COCO14_CLASSES, VOC12_CLASSES
from wsss.datasets.synthetic import SYNTHETIC_CLASSES, make_sample, make_synthetic_voc
from wsss.io.seeds import IGNORE_INDEX, read_label_map, write_label_map
from wsss.registry import MODELS
from wsss.utils import resolve_pretrained

# Mask2Former Swin-L (200M parameters, ten matched losses) takes a minute a training iteration
# on a CPU: its configs are checked and run in inference below, its training code runs in the
# tiny Mask2Former config here and in test_mask2former.py.
SWIN_L = {'VOC12Dataset': 'configs/mask2former/mask2former_swin-l-in22k-384x384-pre_2xb2-80k_'
                          'voc12-train-aug-seeds-512x512.py',
          'COCO14Dataset': 'configs/mask2former/mask2former_swin-l-in22k-384x384-pre_2xb2-100k_'
                           'coco14-train-seeds-512x512.py'}
CONFIGS = sorted(p for d in ('deeplabv2', 'deeplabv3plus', 'segformer', 'mask2former')
                 for p in glob.glob(osp.join(ROOT, 'configs', d, '*.py'))
                 if osp.relpath(p, ROOT) not in SWIN_L.values())
TINY_DLV3 = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'


def make_tiny_coco(root: str, splits) -> str:
    """A COCO 2014 tree of the mini VOC generator's images (its classes are COCO classes too):
    instance annotations (RLE) and the semantic GT PNGs the converter would write."""
    rng = np.random.default_rng(0)
    cat_ids = coco_category_ids()
    to_coco = {c: COCO[VOC12_CLASSES[c - 1]] for c in SYNTHETIC_CLASSES}
    os.makedirs(osp.join(root, 'annotations'))
    for split, count in splits:
        images, annotations = [], []
        for img_id in range(1, count + 1):
            img, label = make_sample(rng)
            name = f'COCO_{split}2014_{img_id:012d}'
            os.makedirs(osp.join(root, f'{split}2014'), exist_ok=True)
            Image.fromarray(img[:, :, ::-1]).save(osp.join(root, f'{split}2014', name + '.jpg'))
            gt = label.copy()
            for voc_id, coco_id in to_coco.items():
                mask = label == voc_id
                gt[mask] = coco_id
                if mask.any():
                    annotations.append(dict(
                        id=len(annotations) + 1, image_id=img_id, segmentation=_rle(mask),
                        category_id=cat_ids[COCO14_CLASSES[coco_id - 1]], iscrowd=0,
                        area=float(mask.sum()), bbox=[0, 0, 1, 1]))
            write_label_map(osp.join(root, 'SegmentationClass', f'{split}2014', name + '.png'), gt)
            images.append(dict(id=img_id, file_name=name + '.jpg', height=gt.shape[0],
                               width=gt.shape[1]))
        categories = [dict(id=i, name=n) for n, i in cat_ids.items()]
        with open(osp.join(root, 'annotations', f'instances_{split}2014.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return root


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory) -> dict:
    """Dataset type -> (data root, seed dir) of tiny VOC and COCO trees; the seeds are the GT."""
    tmp = tmp_path_factory.mktemp('stage_two')
    voc = make_synthetic_voc(str(tmp / 'voc'), (('train', 4), ('val', 1)))
    coco = make_tiny_coco(str(tmp / 'coco'), (('train', 4), ('val', 1)))
    return {'VOC12Dataset': (voc, osp.join(voc, 'SegmentationClass')),
            'COCO14Dataset': (coco, osp.join(coco, 'SegmentationClass', 'train2014'))}


def without_pretrained(node) -> None:
    """No pretrained weights (no network in tests), in place. SyncBN stays: a run that is not
    distributed reverts it to BN (mmengine's Runner)."""
    if isinstance(node, dict):
        if 'pretrained' in node:
            node['pretrained'] = None
        if isinstance(node.get('init_cfg'), dict) and node['init_cfg'].get('type') == 'Pretrained':
            node['init_cfg'] = None
        for value in node.values():
            without_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            without_pretrained(value)


def on_tiny_data(path: str, data: dict, work_dir: str, iters: int = 2) -> Config:
    """The config at ``path`` shrunk to ``iters`` iterations on a tiny tree with 64x64 crops,
    validated at the end, without checkpoints."""
    loaded = Config.fromfile(osp.join(ROOT, path))
    # unformatted: yapf would take 3 s a run (fromfile ignores format_python_code)
    cfg = Config(loaded.to_dict(), filename=loaded.filename, format_python_code=False)
    without_pretrained(cfg.model)
    train, val = cfg.train_dataloader, cfg.val_dataloader
    root, seed_dir = data[train.dataset.dataset.type]
    train.dataset.dataset.update(data_root=root, split='train')
    train.dataset.seed_dir = seed_dir
    val.dataset.update(data_root=root, split='val')
    for loader in (train, val):
        loader.update(num_workers=0, persistent_workers=False)
        for transform in loader.dataset.pipeline:
            if transform.type in ('RandomResize', 'Resize'):
                transform.scale = (128, 96)
            elif transform.type == 'RandomChoiceResize':  # Mask2Former's shortest-edge jitter
                transform.scales = [64, 96]
            elif transform.type == 'RandomCrop':
                transform.crop_size = (64, 64)
    train.batch_size = 2  # BN needs more than one value per channel after global pooling
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint = None  # R-101 / MiT-B5 checkpoints are hundreds of MB
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p)[:-3] for p in CONFIGS])
def test_config_trains_on_seeds_and_is_scored_on_gt(path, tiny_data, tmp_path):
    runner = Runner.from_cfg(on_tiny_data(path, tiny_data, str(tmp_path)))
    runner.train()
    assert runner.iter == 2
    assert np.isfinite(runner.message_hub.get_scalar('train/loss').current())
    assert 0 <= runner.message_hub.get_scalar('val/mIoU').current() <= 100


def test_mask2former_swin_l_configs_follow_fma_wsss_and_predict_on_tiny_data(
        tiny_data, tmp_path, weights_dir):
    for dataset, path in SWIN_L.items():
        num_classes, iters = (21, 80000) if dataset == 'VOC12Dataset' else (81, 100000)
        cfg = Config.fromfile(osp.join(ROOT, path))
        backbone, head = cfg.model.backbone, cfg.model.decode_head
        assert (backbone.type, backbone.embed_dims, backbone.depths, backbone.num_heads,
                backbone.window_size, backbone.pretrain_img_size) == (
            'SwinTransformer', 192, [2, 2, 18, 2], [6, 12, 24, 48], 12, 384)
        assert (head.type, head.num_queries, head.num_classes) == (
            'Mask2FormerHead', 100, num_classes)
        assert head.loss_cls.class_weight == [1.0] * num_classes + [0.1]
        assert cfg.train_dataloader.batch_size == 2 and cfg.train_dataloader.dataset.dataset.type \
            == cfg.test_dataloader.dataset.type == dataset
        assert cfg.train_cfg.max_iters == cfg.param_scheduler[0].end == iters
        assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.crf_model.probs == 'normalize'
        crops = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop']
        assert crops[0].crop_size == (512, 512) and cfg.model.data_preprocessor.size == (512, 512)
        # the ImageNet-22k Swin-L is found like every other pretrained file
        local = osp.join(weights_dir, 'swin_large_patch4_window12_384_22k_20220412-6580f57d.pth')
        open(local, 'wb').close()
        assert resolve_pretrained(cfg) == [local] and backbone.init_cfg.checkpoint == local
    # the VOC model, built as configured (random weights), predicts the tiny val split; the COCO
    # one differs only in its class count
    cfg = on_tiny_data(SWIN_L['VOC12Dataset'], tiny_data, str(tmp_path))
    assert 0 <= Runner.from_cfg(cfg).val()['mIoU'] <= 100
    head = MODELS.build(Config.fromfile(osp.join(ROOT, SWIN_L['COCO14Dataset'])).model.decode_head)
    assert head.cls_embed.out_features == 82  # 81 classes and "no object"


def background_only_miou(gt_paths) -> float:
    """mIoU (%) of predicting background everywhere: IoU_bg / number of classes in the GT."""
    gts = [read_label_map(p) for p in gt_paths]
    valid = np.concatenate([g[g != IGNORE_INDEX] for g in gts])
    return 100 * np.mean(valid == 0) / len(np.unique(valid))


def test_training_on_seeds_lowers_the_loss_and_is_scored_on_gt(tmp_path):
    root = make_synthetic_voc(str(tmp_path / 'voc'), (('train', 8), ('val', 4)))
    seed_dir = str(tmp_path / 'seeds')
    rng = np.random.default_rng(0)
    for path in glob.glob(osp.join(root, 'SegmentationClass', 'train_*.png')):
        seed = read_label_map(path)
        seed[rng.random(seed.shape) < 0.3] = IGNORE_INDEX  # unsure pixels, as CGL leaves them
        write_label_map(osp.join(seed_dir, osp.basename(path)), seed)
    cfg = on_tiny_data(TINY_DLV3, {'VOC12Dataset': (root, seed_dir)}, str(tmp_path / 'work'),
                       iters=80)
    cfg.train_dataloader.batch_size = 4
    cfg.optim_wrapper.optimizer.lr = 0.1  # 80 iterations suffice at 10x the config's rate
    cfg.param_scheduler[0].end = 80
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 80
    assert losses[-10:].mean() < 0.3 * losses[:5].mean(), losses
    miou = runner.message_hub.get_scalar('val/mIoU').current()
    trivial = background_only_miou(glob.glob(osp.join(root, 'SegmentationClass', 'val_*.png')))
    assert miou > trivial + 5, (miou, trivial)  # it finds objects, not just background
