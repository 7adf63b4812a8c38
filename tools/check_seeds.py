"""Check a seed folder against the seed contract: one PNG per image of the split, single channel,
values 0..C or 255, the image's size. Prints what is wrong and exits 1 if anything is.

    python tools/check_seeds.py SEED_DIR --config CONFIG [--data-root DIR] [--split SPLIT]
    python tools/check_seeds.py SEED_DIR --dataset voc12 --data-root data/VOCdevkit/VOC2012 \
        --split train_aug

--config reads the test dataset of any config (e.g. the seed config that wrote SEED_DIR, an
image folder included); --dataset is the shortcut for VOC 2012 and COCO 2014.
"""
import argparse
import sys

import mmengine

from wsss.apis import USER_ERRORS, add_dataset_args, dataset_config_from_args
from wsss.io.seeds import find_seed_problems
from wsss.registry import DATASETS
from wsss.utils import register_all_modules

SHOWN = 5  # examples printed per kind of problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('seed_dir')
    args = add_dataset_args(parser).parse_args()

    register_all_modules()
    try:
        dataset = DATASETS.build(dataset_config_from_args(args, parser))
    except (*USER_ERRORS, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    samples = [(info['img_name'], info['img_path'])
               for info in (dataset.get_data_info(i) for i in range(len(dataset)))]
    problems = find_seed_problems(mmengine.track_iter_progress(samples), args.seed_dir,
                                  len(dataset.metainfo['classes']))
    bad = sum(len(v) for v in problems.values())
    print(f'\n{len(samples)} images, {len(samples) - bad} good seeds in {args.seed_dir}')
    for kind, messages in problems.items():
        if messages:
            print(f'{kind}: {len(messages)}')
            for m in messages[:SHOWN]:
                print(f'  {m}')
            if len(messages) > SHOWN:
                print(f'  ... and {len(messages) - SHOWN} more')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
