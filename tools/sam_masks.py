"""Generate SAM automatic masks (FMA-WSSS's quasi-superpixels) for a dataset split.

    python tools/sam_masks.py CONFIG [--mask-dir DIR] [--work-dir DIR] [--cfg-options ...]
    bash tools/dist_launch.sh sam_masks.py GPUS CONFIG [...]      # one process per GPU

Masks go to --mask-dir (default work_dirs/<config>/sam_masks), one <img_name>.json per image
(COCO RLE with level, predicted IoU and stability score; wsss.io.sam_masks reads them).
Images whose file is complete are skipped, so a killed run continues where it stopped (a file
cut short is redone, and logged); in a distributed run each image is done by exactly one
process. The SAM weights are a local file: --cfg-options model.sam.checkpoint=PATH. An image
that cannot be decoded does not stop the run: the others are done, the bad ones listed in
<work_dir>/failed.json and on the console, and the exit code is 1 (--strict stops at the first).
"""
import argparse
import os.path as osp

from mmengine.dist import is_main_process

from wsss.apis import add_common_args, build_runner, check_inputs, load_config, run_main
from wsss.evaluation import print_failed_list
from wsss.io.sam_masks import mask_path
from wsss.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='SAM-mask config (configs/sam/)')
    parser.add_argument('--mask-dir', help='where masks go (default work_dirs/<config>/sam_masks)')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first image that cannot be decoded')
    return add_common_args(parser).parse_args()


def main() -> int:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    mask_dir = args.mask_dir or osp.join(cfg.work_dir, 'sam_masks')
    failed_file = osp.join(cfg.work_dir, 'failed.json')
    cfg.test_dataloader.sampler.out_files = [mask_path(mask_dir, '{img_name}')]
    cfg.test_evaluator.update(mask_dir=mask_dir, failed_file=failed_file, strict=args.strict)
    check_inputs(cfg)
    metrics = build_runner(cfg).test()
    if is_main_process():
        print(', '.join(f'{k}: {v}' for k, v in metrics.items()))
    if metrics.get('sam_masks/failed'):
        if is_main_process():
            print_failed_list(failed_file)
        return 1
    return 0


if __name__ == '__main__':
    run_main(main)
