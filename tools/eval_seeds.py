"""Seed quality against the GT of a split: per-class IoU / precision / recall and mIoU of the seed
PNGs in SEED_DIR. A folder of CAM files (<img_name>.npz, see wsss.io.cams.save_cams) and no
PNGs gets the background-power search instead: mIoU per power, then the table of the best power
(argmax seeds, or SAMS seeds with --sam-masks DIR).
The numbers go to --out-dir (default <SEED_DIR>_eval beside SEED_DIR): metrics.json (mIoU, aAcc,
mAcc, per class IoU / precision / recall / pixel counts, the confusion matrix) and per_image.csv
(each image's mIoU and class IoUs), which tools/analysis/seed_report.py and compare_runs.py read.
Exits 1 with a message naming the file on missing or bad seeds, CAMs or GT.

    python tools/eval_seeds.py SEED_DIR --config CONFIG [--data-root DIR] [--split SPLIT]
    python tools/eval_seeds.py SEED_DIR --dataset voc12 --data-root data/VOCdevkit/VOC2012 \
        --split train

--config reads the test dataset of any config (e.g. the seed config that wrote SEED_DIR; an
image folder needs its GT masks, ``seg_map_dir``); --dataset is the shortcut for VOC 2012 and
COCO 2014.
"""
import argparse
import os
import sys

import mmengine

from wsss.apis import USER_ERRORS, add_dataset_args, dataset_config_from_args
from wsss.evaluation import (
    best_power,
    dataset_image_paths,
    evaluate_seed_dir,
    format_table,
    search_bg_power,
    write_metrics,
)
from wsss.io.seeds import SeedError
from wsss.registry import DATASETS
from wsss.utils import register_all_modules

# CLIP-ES searches t in {1, 2} on its CAMs and FMA-WSSS uses 0.6 / 0.7 on SAM-mask scores; a 0.1
# grid over 0.5..2.0 holds all four, and the mIoU changes smoothly enough in t for that step.
DEFAULT_POWERS = [round(0.5 + 0.1 * i, 1) for i in range(16)]


def is_cam_dir(path: str) -> bool:
    names = os.listdir(path)
    return any(n.endswith('.npz') for n in names) and not any(n.endswith('.png') for n in names)


def describe(args: argparse.Namespace) -> str:
    """The dataset the arguments name, for messages."""
    split = f' {args.split}' if args.split else ''
    return f'{args.config or args.dataset}{split}'


def fail(message: str) -> int:
    print(f'error: {message}', file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('seed_dir', help='seed PNGs, or CAM .npz files for the power search')
    add_dataset_args(parser)
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--powers', type=float, nargs='+', default=DEFAULT_POWERS,
                        help='background powers to search on CAM files (default 0.5, 0.6 .. 2.0)')
    parser.add_argument('--sam-masks', metavar='DIR',
                        help='search with SAMS over the SAM masks in DIR instead of argmax seeds')
    parser.add_argument('--out-dir', help='where metrics.json and per_image.csv go (default '
                        '<SEED_DIR>_eval)')
    parser.add_argument('--out', help='also write the metrics JSON to this file')
    args = parser.parse_args()
    if not os.path.isdir(args.seed_dir):
        return fail(f'seed folder {args.seed_dir} not found')

    register_all_modules()
    try:
        dataset = DATASETS.build(dataset_config_from_args(args, parser))
    except (*USER_ERRORS, ValueError) as e:
        return fail(str(e))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    no_gt = [info['img_name'] for info in infos if 'seg_map_path' not in info]
    if no_gt:
        return fail(f'{len(no_gt)} of {len(infos)} images of {describe(args)} have no GT mask, '
                    f'first: {no_gt[0]}')
    samples = [(info['img_name'], info['seg_map_path']) for info in infos]
    classes = dataset.metainfo['classes']

    try:
        if is_cam_dir(args.seed_dir):
            results = search_bg_power(samples, args.seed_dir, len(classes), args.powers,
                                      args.nproc, args.sam_masks)
            best = best_power(results)
            stats = results[best]
            print('\nbackground power | mIoU')
            for power, result in results.items():
                print(f'{power:16g} | {100 * result.miou:.2f}')
            print(f'best background power: {best:g}')
            extra = dict(best_power=best, predictions=None,
                         miou_by_power={f'{p:g}': 100 * r.miou for p, r in results.items()})
        else:
            stats = evaluate_seed_dir(samples, args.seed_dir, len(classes), args.nproc)
            extra = dict(predictions=args.seed_dir)
    except (FileNotFoundError, SeedError) as e:
        return fail(str(e))
    print(f'\n{len(samples)} images of {describe(args)}, {args.seed_dir}')
    print(format_table(stats, classes))
    out_dir = args.out_dir or args.seed_dir.rstrip('/') + '_eval'
    numbers = write_metrics(out_dir, stats, classes, 'seeds',
                            image_paths=dataset_image_paths(infos), **extra)
    print(f'metrics: {out_dir}/metrics.json, per image: {out_dir}/per_image.csv')
    if args.out:
        mmengine.dump(numbers, args.out, file_format='json', indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
