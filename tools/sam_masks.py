"""Generate SAM automatic masks (FMA-WSSS's quasi-superpixels) for a dataset split.

    python tools/sam_masks.py CONFIG [--mask-dir DIR] [--work-dir DIR] [--cfg-options ...]
    bash tools/dist_launch.sh sam_masks.py GPUS CONFIG [...]      # one process per GPU

Masks go to --mask-dir (default work_dirs/<config>/sam_masks), one <img_name>.json per image
(COCO RLE with level, predicted IoU and stability score; wsss.models.sam.store reads them).
Images whose file exists are skipped, so a killed run continues where it stopped; in a
distributed run each image is done by exactly one process. The SAM weights are a local file:
--cfg-options model.sam.checkpoint=PATH.
"""
import argparse
import os.path as osp

from mmengine.runner import Runner

from wsss.apis import add_common_args, load_config
from wsss.models.sam import mask_path
from wsss.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='SAM-mask config (configs/sam/)')
    parser.add_argument('--mask-dir', help='where masks go (default work_dirs/<config>/sam_masks)')
    return add_common_args(parser).parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    mask_dir = args.mask_dir or osp.join(cfg.work_dir, 'sam_masks')
    cfg.test_dataloader.sampler.out_files = [mask_path(mask_dir, '{img_name}')]
    cfg.test_evaluator.mask_dir = mask_dir
    Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    main()
