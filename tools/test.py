"""Evaluate a checkpoint with the config's test loop (mIoU on the test split's GT).

    python tools/test.py CONFIG CHECKPOINT [--show-dir DIR] [--out DIR] [--metrics FILE]
                         [--cfg-options k=v ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [...]
"""
import argparse
import json
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from wsss.apis import add_common_args, load_config
from wsss.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--show-dir', help='write prediction overlays here (under the work dir)')
    parser.add_argument('--out', help='write predictions as label PNGs into this folder')
    parser.add_argument('--metrics', help='also write the metrics (mIoU, ...) to this JSON file')
    return add_common_args(parser).parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        hooks = cfg.setdefault('default_hooks', {})
        if 'visualization' not in hooks:
            raise ValueError(f'config {args.config} has no default_hooks.visualization for --show-dir')
        hooks.visualization.update(draw=True, interval=1)
        cfg.visualizer.save_dir = osp.join(cfg.work_dir, args.show_dir)
    if args.out:
        cfg.test_evaluator['output_dir'] = args.out
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.metrics and is_main_process():
        with open(args.metrics, 'w') as f:
            json.dump(metrics, f, indent=2, default=float)  # numpy scalars


if __name__ == '__main__':
    main()
