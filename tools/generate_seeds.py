"""Generate seeds (pseudo masks) for a dataset split with a stage-one config.

    python tools/generate_seeds.py CONFIG [--checkpoint CKPT] [--seed-dir DIR] [--save-cams DIR]
                                   [--show-dir DIR] [--no-eval] [--strict]
                                   [--batch N] [--autocast {fp16,bf16}]
    python tools/generate_seeds.py CONFIG --save-cams DIR --cams-only [...]  # then, on CPUs:
    python tools/seed_from_cams.py CONFIG --cam-dir DIR [--nproc N]
    bash tools/dist_seeds.sh CONFIG GPUS [...]          # one process per GPU

Seeds go to --seed-dir (default work_dirs/<config>/seeds): <img_name>.png and <img_name>_conf.png.
Images whose seed is complete are skipped, so a killed run continues where it stopped; a seed
cut short (a kill, a full disk, a cut copy) is redone, and logged. --save-cams also
keeps each image's refined CAMs (<img_name>.npz) for tools/eval_seeds.py's background search.
The seeder (dense CRF, SAMS), PNG encoding and CAM saving run in a pool of CPU workers beside the
model (test_evaluator.workers, default the cores of each rank). An image that cannot be decoded,
or whose seed confidence comes out NaN, does not stop the run: the others are written, the bad
ones listed in <work_dir>/failed.json and on the console, and the exit code is 1 (--strict stops
at the first). At the end the whole
split's seeds are evaluated against its GT, where it has one.

--cams-only writes the CAM files alone (float32; float16 for CLIP-ES's released CRF, which rounds
them so itself), no seeds: tools/seed_from_cams.py then runs the config's seeder over them as a
CPU job, with the same seeds as a whole run here. For seeders that
cost more CPU than the GPU's CAMs (dense CRF), the GPU is then not held at the CPU's pace
(README: Performance).

On a GPU, --batch N (CLIP-ES / FMA-WSSS configs) orders the images by size and runs up to N
images of one size through one forward and backward (same CAMs up to float rounding); --autocast
runs the ViT in fp16 / bf16 (README: Performance, for the CAM difference against fp32). On a CPU
neither was faster. ``tf32=True`` in the config (the *_clean configs; --cfg-options tf32=True)
runs float32 matrix products in TF32 on CUDA; the reproduction configs keep float32.
"""
import argparse
import os.path as osp

from mmengine.dist import is_main_process

from wsss.apis import (
    add_common_args,
    build_runner,
    check_inputs,
    load_config,
    run_main,
    use_image_batches,
)
from wsss.evaluation import (
    dataset_image_paths,
    evaluate_dataset_seeds,
    format_table,
    print_failed_list,
    write_metrics,
)
from wsss.registry import DATASETS, MODELS
from wsss.utils import register_all_modules
from wsss.utils.precision import use_tf32


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='stage-one config')
    parser.add_argument('--checkpoint', help='trained stage-one weights (e.g. learned prompts)')
    parser.add_argument('--seed-dir', help='where seeds go (default work_dirs/<config>/seeds)')
    parser.add_argument('--save-cams', metavar='DIR', help='also save refined CAMs here')
    parser.add_argument('--cams-only', action='store_true',
                        help='write the --save-cams files only; seeds: tools/seed_from_cams.py')
    parser.add_argument('--show-dir', help='write CAM heatmaps and seed overlays here')
    parser.add_argument('--no-eval', action='store_true', help='skip the final evaluation')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first image that cannot be decoded')
    parser.add_argument('--batch', type=int, metavar='N',
                        help='up to N same-size images per forward (images ordered by size)')
    parser.add_argument('--autocast', choices=['fp16', 'bf16'],
                        help='run the ViT forward under torch.autocast in this precision')
    return add_common_args(parser).parse_args()


def check_cams_only(args: argparse.Namespace, model_class: type) -> None:
    """--cams-only needs a CAM folder, a model that leaves its seeder to the writer, no
    pictures (they show seeds)."""
    if not args.save_cams:
        raise SystemExit('error: --cams-only writes the CAM files only: give their folder, '
                         '--save-cams DIR')
    if not getattr(model_class, 'can_defer_seeding', False):
        raise SystemExit(f'error: --cams-only is for CLIP-ES / FMA-WSSS configs; '
                         f'{model_class.__name__} seeds in the model: drop it')
    if args.show_dir:
        raise SystemExit('error: --show-dir draws seeds, which --cams-only does not make: '
                         'give it to tools/seed_from_cams.py instead')


def main() -> int:
    args = parse_args()
    register_all_modules()
    cfg = load_config(args.config, args)
    use_tf32(cfg.get('tf32', False))
    seed_dir = None if args.cams_only else args.seed_dir or osp.join(cfg.work_dir, 'seeds')
    failed_file = osp.join(cfg.work_dir, 'failed.json')
    cfg.test_dataloader.sampler.update(seed_dir=seed_dir, cam_dir=args.save_cams)
    cfg.test_evaluator.update(seed_dir=seed_dir, cam_dir=args.save_cams, show_dir=args.show_dir,
                              failed_file=failed_file, strict=args.strict)
    model_class = MODELS.get(cfg.model.type)
    if getattr(model_class, 'can_defer_seeding', False):
        cfg.model.defer_seeding = True  # the writer's workers run the seeder
    if args.cams_only:
        check_cams_only(args, model_class)
    if (args.batch or args.autocast) and not getattr(model_class, 'can_batch_images', False):
        raise SystemExit(f'error: --batch and --autocast are for CLIP-ES / FMA-WSSS configs; '
                         f'{cfg.model.type} runs its own way: drop them')
    if args.batch:
        use_image_batches(cfg, args.batch)
    if args.autocast:
        cfg.model.autocast = args.autocast
    if args.checkpoint:
        cfg.load_from = args.checkpoint
    check_inputs(cfg)
    runner = build_runner(cfg)
    metrics = runner.test()
    if is_main_process():
        print(', '.join(f'{k}: {v}' for k, v in metrics.items()))
    if metrics.get('seeds/failed'):
        if is_main_process():
            print_failed_list(failed_file)
        return 1
    if args.cams_only and is_main_process():
        print(f'CAMs in {args.save_cams}; seeds: python tools/seed_from_cams.py {args.config} '
              f'--cam-dir {args.save_cams}')
    if args.no_eval or args.cams_only or not is_main_process():
        return 0
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=[]))
    try:
        stats = evaluate_dataset_seeds(dataset, seed_dir)
    except ValueError as e:
        print(f'seeds are in {seed_dir}; not evaluated: {e}')
        return 0
    classes = dataset.metainfo['classes']
    eval_dir = osp.join(cfg.work_dir, 'seed_eval')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    write_metrics(eval_dir, stats, classes, 'seeds', predictions=seed_dir,
                  image_paths=dataset_image_paths(infos))
    print(f'\nseeds in {seed_dir} ({len(dataset)} images):')
    print(format_table(stats, classes))
    print(f'metrics: {eval_dir}/metrics.json, per image: {eval_dir}/per_image.csv')
    return 0


if __name__ == '__main__':
    run_main(main)
