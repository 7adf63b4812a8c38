"""Generate seeds (pseudo masks) for a dataset split with a stage-one config.

    python tools/generate_seeds.py CONFIG [--checkpoint CKPT] [--seed-dir DIR] [--save-cams DIR]
                                   [--show-dir DIR] [--no-eval]
    bash tools/dist_seeds.sh CONFIG GPUS [...]          # one process per GPU

Seeds go to --seed-dir (default work_dirs/<config>/seeds): <img_name>.png and <img_name>_conf.png.
Images whose seed exists are skipped, so a killed run continues where it stopped. --save-cams also
keeps each image's refined CAMs (<img_name>.npz) for tools/eval_seeds.py's background search.
At the end the whole split's seeds are evaluated against its GT, where it has one.
"""
import argparse
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.runner import Runner

from wsss.apis import add_common_args, load_config
from wsss.evaluation import evaluate_dataset_seeds, format_table
from wsss.registry import DATASETS
from wsss.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='stage-one config')
    parser.add_argument('--checkpoint', help='trained stage-one weights (e.g. learned prompts)')
    parser.add_argument('--seed-dir', help='where seeds go (default work_dirs/<config>/seeds)')
    parser.add_argument('--save-cams', metavar='DIR', help='also save refined CAMs here')
    parser.add_argument('--show-dir', help='write CAM heatmaps and seed overlays here')
    parser.add_argument('--no-eval', action='store_true', help='skip the final evaluation')
    return add_common_args(parser).parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    seed_dir = args.seed_dir or osp.join(cfg.work_dir, 'seeds')
    cfg.test_dataloader.sampler.update(seed_dir=seed_dir, cam_dir=args.save_cams)
    cfg.test_evaluator.update(seed_dir=seed_dir, cam_dir=args.save_cams, show_dir=args.show_dir)
    if args.checkpoint:
        cfg.load_from = args.checkpoint
    runner = Runner.from_cfg(cfg)
    runner.test()
    if args.no_eval or not is_main_process():
        return
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=[]))
    try:
        stats = evaluate_dataset_seeds(dataset, seed_dir)
    except ValueError as e:
        print(f'seeds are in {seed_dir}; not evaluated: {e}')
        return
    print(f'\nseeds in {seed_dir} ({len(dataset)} images):')
    print(format_table(stats, dataset.metainfo['classes']))


if __name__ == '__main__':
    main()
