"""Run every step of a method in order under one work dir; each finished step is skipped.

    python tools/run_pipeline.py configs/pipelines/CONFIG.py [--gpus N] [--work-dir DIR]
                                 [--cfg-options steps.STEP.cfg_options.KEY=VALUE ...]
                                 [--redo STEP ...]

Steps (SAM masks, prompt training, seeds, seed evaluation, stage-two training and test) run as
the tools do, in subprocesses, each in <work dir>/<step>/ (done.json when finished) on the config
written to <work dir>/configs/<step>.py. A killed or failed run resumes where it stopped when
started again. Each step prints "step k/n" at its start and end, its progress and its result;
--verbose adds mmengine's whole log (it is always in the step's log file). --gpus N runs every
step on N processes (torchrun); on Slurm, run this inside an allocation of one node. Each step
records (done.json) the artefact it produced with its options and inputs; later steps take that
artefact. A finished step whose options changed since it ran is refused with a line naming the
change; --redo STEP runs it again in a fresh folder (the old one is kept as <step>.old-<time>),
and with it every step that takes its output. The closing table gives each step's time and mIoU
(seeds: against the training split's GT; stage two: validation GT), read from each evaluation's
metrics.json; then the report pages (<work dir>/report/seeds/index.html,
.../stage_two/index.html) comparing the evaluations of the same images
(tools/analysis/seed_report.py).
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from wsss.analysis.report import pipeline_reports
from wsss.apis import run_main
from wsss.apis.pipeline import (
    RANDOM_WEIGHTS_WARNING,
    PipelineError,
    format_summary,
    resolve_weights,
    run_pipeline,
)
from wsss.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='pipeline config (configs/pipelines/)')
    parser.add_argument('--gpus', type=int, default=1, help='processes per step (torchrun)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes of seed evaluation')
    parser.add_argument('--work-dir', help='default: the config\'s work_dir, else '
                                           'work_dirs/<config name>')
    parser.add_argument('--verbose', action='store_true',
                        help="each step's whole log on the console (environment, config, losses, "
                             'tables); by default only its progress and result, the rest in its '
                             'log file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. '
                             'steps.stage_two.cfg_options.train_cfg.max_iters=1000')
    parser.add_argument('--redo', nargs='+', default=[], metavar='STEP',
                        help='run these finished steps again, in fresh folders (and the steps '
                             'that take their outputs)')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    try:
        cfg, random_weights = resolve_weights(cfg)
        if random_weights:  # the same step names: the overrides apply to the fallback too
            cfg.merge_from_dict(args.cfg_options or {})
        records = run_pipeline(cfg, gpus=args.gpus, nproc=args.nproc, redo=args.redo,
                               verbose=args.verbose)
    except PipelineError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'\npipeline {args.config}, work dir {cfg.work_dir}:')
    print(format_summary(records))
    try:
        for page in pipeline_reports(cfg.work_dir, records):
            print(f'report: {page}')
    except (OSError, ValueError) as e:  # the numbers are written; only the page is missing
        print(f'warning: no report page: {e}', file=sys.stderr)
    if random_weights:
        print(RANDOM_WEIGHTS_WARNING.format(reason='no pretrained weights (see above)',
                                            fallback=cfg.filename))
    return 0


if __name__ == '__main__':
    run_main(main)
