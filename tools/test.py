"""Evaluate a checkpoint with the config's test loop (mIoU on the test split's GT), or write
the test split's predictions as benchmark submission files.

    python tools/test.py CONFIG CHECKPOINT [--tta] [--crf] [--show-dir DIR] [--out DIR]
                         [--metrics-dir DIR] [--cfg-options k=v ...]
    python tools/test.py CONFIG CHECKPOINT --format-only --out DIR [--tta] [--crf] [--strict]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [...]

--tta: multi-scale (0.5-1.75) + flip, the config's tta_pipeline and mmseg's SegTTAModel.
--crf: dense CRF on the predicted probabilities (the config's crf_model), after --tta if given.
The metrics go to --metrics-dir (default <work_dir>/test, test_tta, test_crf or test_tta_crf):
metrics.json (mIoU, aAcc, mAcc, per class IoU / precision / recall / pixel counts, the confusion
matrix) and per_image.csv (each image's mIoU and class IoUs); --out keeps the predictions as
label PNGs, which tools/analysis/seed_report.py shows beside the images.
--format-only: no GT, no metric; VOC: results/VOC2012/Segmentation/comp6_test_cls/*.png and
results.tgz (for the evaluation server) under --out; other datasets: <image>.png under --out.
An image that cannot be decoded does not stop --format-only: the others are written, the bad ones
listed in <work_dir>/failed.json and on the console, and the exit code is 1 (--strict stops at
the first).
"""
import argparse
import os.path as osp
import shutil

from mmengine.dist import is_main_process

from wsss.apis import add_common_args, build_runner, load_config, run_main
from wsss.apis.test_modes import use_crf, use_format_only, use_metric_files, use_tta
from wsss.evaluation import print_failed_list
from wsss.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--tta', action='store_true', help='multi-scale + flip testing')
    parser.add_argument('--crf', action='store_true',
                        help='dense CRF on the predicted probabilities')
    parser.add_argument('--format-only', action='store_true',
                        help='write submission files into --out; no GT needed, no metric')
    parser.add_argument('--show-dir', help='write prediction overlays here (under the work dir)')
    parser.add_argument('--out', help='write predictions as label PNGs into this folder (with '
                                      '--format-only: the submission files)')
    parser.add_argument('--metrics-dir', help='where metrics.json and per_image.csv go (default '
                        '<work_dir>/test, test_tta, test_crf, test_tta_crf by mode)')
    parser.add_argument('--metrics', help='also write the metrics JSON to this file')
    parser.add_argument('--strict', action='store_true',
                        help='--format-only: stop at the first image that cannot be decoded')
    args = add_common_args(parser).parse_args()
    if args.format_only and not args.out:
        parser.error('--format-only needs --out DIR')
    return args


def main() -> int:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    cfg.load_from = args.checkpoint
    if args.tta:
        use_tta(cfg)
    if args.crf:
        use_crf(cfg, multi_view=args.tta)
    if args.show_dir:
        hooks = cfg.setdefault('default_hooks', {})
        if 'visualization' not in hooks:
            raise ValueError(f'config {args.config} has no default_hooks.visualization for '
                             '--show-dir')
        hooks.visualization.update(draw=True, interval=1)
        cfg.visualizer.save_dir = osp.join(cfg.work_dir, args.show_dir)
    elif 'visualization' in cfg.get('default_hooks', {}):
        cfg.default_hooks.visualization.draw = False  # training configs draw validation images
    metrics_dir, failed_file = None, osp.join(cfg.work_dir, 'failed.json')
    if args.format_only:
        use_format_only(cfg, args.out, failed_file, args.strict)
    else:
        metrics_dir = args.metrics_dir or osp.join(
            cfg.work_dir, '_'.join(['test'] + [m for m in ('tta', 'crf') if getattr(args, m)]))
        use_metric_files(cfg, metrics_dir, args.out)
    metrics = build_runner(cfg).test()
    if not is_main_process():
        return 0
    if metrics_dir is None:
        if metrics.get('format_only/failed'):
            print_failed_list(failed_file)
            return 1
        return 0
    if args.metrics:
        shutil.copyfile(osp.join(metrics_dir, 'metrics.json'), args.metrics)
    print(', '.join(f'{k} {v:.2f}' for k, v in metrics.items()) + f' ({metrics_dir})')
    return 0

if __name__ == '__main__':
    run_main(main)
