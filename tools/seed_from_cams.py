"""Seeds from the CAM files of a GPU job, as a CPU job: the seeder of a stage-one config (dense
CRF, SAMS, argmax) over the CAMs in --cam-dir, in --nproc processes.

    python tools/generate_seeds.py CONFIG --save-cams CAMS --cams-only    # on a GPU
    python tools/seed_from_cams.py CONFIG --cam-dir CAMS [--seed-dir DIR] [--nproc N]
                                   [--seeder TYPE] [--seeder-options KEY=VALUE ...]
                                   [--show-dir DIR] [--strict]

The seeds go where tools/generate_seeds.py would write them (--seed-dir, default
work_dirs/<config>/seeds): <img_name>.png and <img_name>_conf.png, the same bytes as a whole run
of tools/generate_seeds.py with CONFIG (from the CAM files of --cams-only). The seeder is
the config's ``model.seeder`` with the model's ``released`` switch (which CRFSeeder follows when
its own is None) and its SAM mask folder (SAMS); --seeder TYPE replaces it, --seeder-options sets
its arguments (e.g. mask_dir=DIR bg_power=0.7); CAM files made for CLIP-ES's released CRF are
float16, so another seeder over them sees rounded CAMs. As the other long jobs: complete seeds are
skipped, so a killed run continues where it stopped (a seed cut short is redone); an image whose
CAM file is missing or bad is listed in <work_dir>/failed.json and the exit code is 1 (--strict
stops at the first). Evaluate the seeds with tools/eval_seeds.py SEED_DIR --config CONFIG.

Which path is faster for which seeder, and how this job scales with N and --nproc: README,
Performance.
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from wsss.apis import add_common_args, load_config, run_main
from wsss.evaluation import print_failed_list
from wsss.evaluation.cam_seeding import seed_cam_dir
from wsss.models.seeders.base import model_seeder
from wsss.registry import DATASETS, MODELS
from wsss.utils import register_all_modules
from wsss.utils.workers import cores_per_rank


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the stage-one config of the run that wrote the CAMs')
    parser.add_argument('--cam-dir', required=True,
                        help='CAM files <img_name>.npz (tools/generate_seeds.py --save-cams)')
    parser.add_argument('--seed-dir', help='where seeds go (default work_dirs/<config>/seeds)')
    parser.add_argument('--nproc', type=int, default=cores_per_rank(),
                        help='seeding processes (default: the cores; 0: this process)')
    parser.add_argument('--seeder', metavar='TYPE',
                        help='a seeder in place of the config\'s model.seeder (e.g. CRFSeeder)')
    parser.add_argument('--seeder-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='arguments of the seeder')
    parser.add_argument('--show-dir', help='write CAM heatmaps and seed overlays here')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first image whose CAMs cannot be read')
    return add_common_args(parser).parse_args()


def main() -> int:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    if not getattr(MODELS.get(cfg.model.type), 'can_defer_seeding', False):
        raise SystemExit(f'error: {cfg.model.type} seeds in the model, from no CAM files: '
                         'run tools/generate_seeds.py')
    if args.nproc < 0:
        raise SystemExit(f'error: --nproc must be >= 0, got {args.nproc}')
    try:
        seeder = model_seeder(cfg.model, args.seeder, args.seeder_options)
    except TypeError as e:  # a missing or unknown argument
        raise SystemExit(f'error: the seeder of {args.config} (model.seeder, --seeder): {e}; '
                         'set its arguments with --seeder-options KEY=VALUE')
    seed_dir = args.seed_dir or osp.join(cfg.work_dir, 'seeds')
    failed_file = osp.join(cfg.work_dir, 'failed.json')
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=[]))
    metrics = seed_cam_dir(dataset, args.cam_dir, seed_dir, seeder, args.nproc,
                           failed_file=failed_file, strict=args.strict, show_dir=args.show_dir)
    seconds = ', '.join(f'{k} {v:.1f} s' for k, v in metrics['seconds'].items() if v)
    print(f'seeds/written: {metrics["written"]}, seeds/failed: {metrics["failed"]} '
          f'({type(seeder).__name__}; CPU time: {seconds or "none"})')
    if metrics['failed']:
        print_failed_list(failed_file)
        return 1
    print(f'seeds in {seed_dir}; evaluate: python tools/eval_seeds.py {seed_dir} '
          f'--config {args.config}')
    return 0


if __name__ == '__main__':
    run_main(main)
