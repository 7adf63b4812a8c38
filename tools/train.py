"""Train a stage-one (prompt learning) or stage-two (mmseg segmentor) model from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_GPUS [...]      # torchrun, one process per GPU
"""
import argparse

from mmengine.dist import is_main_process

from wsss.apis import (
    add_common_args,
    amp_needs_cuda,
    build_runner,
    enable_amp,
    load_config,
    run_main,
)
from wsss.utils import register_all_modules, resolve_pretrained


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    return add_common_args(parser).parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    if args.amp:
        enable_amp(cfg)
    amp_needs_cuda(cfg)
    # pretrained URLs -> local files (WSSS_WEIGHTS_DIR, cache or download); a no-op once cached
    resolve_pretrained(cfg)
    if args.resume:
        cfg.resume = True
    runner = build_runner(cfg)
    runner.train()
    if is_main_process():
        print(f'trained to iteration {runner.iter}; checkpoints and logs in {runner.work_dir}')


if __name__ == '__main__':
    run_main(main)
