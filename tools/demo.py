"""CAM and seed pictures of one image with a stage-one model.

    python tools/demo.py IMAGE --classes cat person [--config CONFIG] [--checkpoint CKPT]
                         [--out-dir DIR] [--device cpu|cuda] [--cfg-options key=value ...]

The image is labelled with --classes (names of the config's dataset: VOC's cat, person,
tvmonitor, ... or COCO's, or the classes of an image-folder config such as
configs/custom/clip-es_vit-b16_custom.py) and goes through the config's test pipeline and model,
as in tools/generate_seeds.py. Written to --out-dir (default work_dirs/demo):

    <stem>_cams.png    the image and a heatmap of each class's CAM
    <stem>_seed.png    the image and the seed over it
    <stem>_label.png   the seed itself, a VOC-palette PNG (0 background, class ids, 255 ignored)

The default config is CLIP-ES with a dense CRF (needs the CLIP ViT-B/16 weights, downloaded on first
use, see tools/weights.py, and the crf extra). FMA-WSSS configs take the learned prompts with
--checkpoint; their SAMS seeders read the image's SAM masks, <model.seeder.mask_dir>/<stem>.json, as
made by tools/sam_masks.py; masks kept elsewhere: --cfg-options model.seeder.mask_dir=DIR.
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch
from mmengine.config import DictAction

from wsss.apis import dataset_classes, init_stage_one, load_config, match_classes, seed_image
from wsss.datasets import LoadImage
from wsss.io.seeds import write_label_map
from wsss.utils import register_all_modules
from wsss.visualization import cam_heatmaps, seed_overlay

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# found from any folder: relative to the repository, not the current folder
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'clip_es', 'clip-es_vit-b16_crf_voc12-train.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('image', help='the image file')
    parser.add_argument('--classes', nargs='+', required=True,
                        help='the classes in the image, e.g. cat person')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='stage-one config')
    parser.add_argument('--checkpoint', help='trained stage-one weights (e.g. learned prompts)')
    parser.add_argument('--out-dir', default='work_dirs/demo', help='where the pictures go')
    parser.add_argument('--device', choices=['cpu', 'cuda'],
                        default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config settings, key=value')
    args = parser.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda, but no CUDA device is available')
    return args


def main() -> int:
    args = parse_args()
    register_all_modules()
    try:
        cfg = load_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        classes = dataset_classes(cfg)
        match_classes(classes, args.classes)  # bad names and images fail before the model loads
        image = LoadImage()(dict(img_path=args.image))['img']
        model = init_stage_one(cfg, args.checkpoint, args.device)
        result = seed_image(model, args.image, args.classes)
    except (OSError, ValueError, RuntimeError, ImportError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    os.makedirs(args.out_dir, exist_ok=True)
    base = osp.join(args.out_dir, osp.splitext(osp.basename(args.image))[0])
    paths = dict(cams=base + '_cams.png', seed=base + '_seed.png', label=base + '_label.png')
    cv2.imwrite(paths['cams'], cam_heatmaps(image, result.cams,
                                            [classes[c] for c in result.class_ids]))
    cv2.imwrite(paths['seed'], seed_overlay(image, result.seed, classes))
    write_label_map(paths['label'], result.seed)
    for kind, path in paths.items():
        print(f'{kind:>5}: {path}')
    print('pixels of the seed:')
    names = {**dict(enumerate(classes)), 255: 'ignored'}
    for value in [0, *result.class_ids, 255]:
        share = float(np.mean(result.seed == value))
        if value != 255 or share:
            print(f'  {names[value]:<12} {100 * share:6.2f}%')
    return 0


if __name__ == '__main__':
    sys.exit(main())
