"""End-to-end seed generation throughput: wsss's seed job against the released code's order.

Methods (the bundled configs, with a random ViT-B/16: no download):

  cam   CLIP-ES CAM + CAA, argmax seeds        configs/clip_es/clip-es_vit-b16_voc12-train.py
  crf   CLIP-ES + dense CRF and CGL            configs/clip_es/clip-es_vit-b16_crf_voc12-train.py
  fma   FMA-WSSS fine seeds (SAMS, bg 0.7)
        configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py

Variants, each in a fresh process (``wsss.utils.benchmark.run_in_child``) on the same generated
VOC-sized images (500x375 JPEGs, 1-3 labels; synthetic SAM masks for fma):

  baseline  the released code's order, built from wsss's own pieces: per image load, one forward,
            one backward per class (``CLIPCAMModel.batch_cams`` with ``gradcam_per_class_loop``),
            CAA, resize (``set_seed``); then the seeder and the PNG writes, one image after
            another (``SeedWriter`` without workers); CRF / SAMS serially after all CAMs (kept in
            memory: the released scripts save them to disk in between, which is not counted).
  wsss      what tools/generate_seeds.py runs: mmengine's test loop over the config's dataloader,
            one backward per class slot, the seeder and the writes in SeedWriter's pool of CPU
            workers; with ``--batch N`` / ``--autocast`` as generate_seeds.py's options (images
            ordered by size, up to N of one size per forward; the ViT under torch.autocast).

With ``--batch`` or ``--autocast`` the wsss runs also print the largest difference between their
CAMs and the one-by-one fp32 CAMs of the same model, over the first ``--batch`` images (at least
2), on the patch grid: of the GradCAMs, and after CAA (whose box threshold turns a GradCAM
rounding difference at a box's edge into a larger one).

Per run: images/s in steady state (from the end of the first --warmup images, which pay for the
loader's and the pool's start and for kernel autotuning, to the last file written; model
building excluded; --warmup 0 times the whole job), the GPU's peak allocated memory
(torch.cuda.max_memory_allocated, on a GPU), peak host memory over the whole run (the sum of
the proportional set sizes, PSS, of the process and all its children: dataloader and pool
workers; read when their summed
RSS, sampled every 50 ms, reaches a new high, and every 2 s: a peak shorter than that can be
missed), and the seconds per image of each stage: load, CLIP (forward + GradCAM; for wsss the
model's forward, by forward hooks), CAA (affinity + refinement; resize included: the library's
``stage`` marks; on a GPU each stage is synchronised at its ends, so that queued kernels land in
their own stage), CRF/SAMS (the seeder) and write (PNG encoding). With ``--device cpu`` the GPUs
are hidden from both variants. For wsss, load
is the model's wait for the dataloader, CRF/SAMS and write are busy time in the workers (beside
the model), and "wait" is the model blocked on a full pool or at the end. The seed pixels where
baseline and wsss differ are counted: their GradCAMs differ in float rounding only, but with
random weights the attention is nearly uniform and CAA min-max-normalises nearly flat maps, which
amplifies that noise (tests/e2e/test_pooled_writes.py checks that the pool writes the same files
as the model's process).

    python tools/benchmark/seed_throughput.py --images 8 --repeats 2    # ~15 min on 2 cores
    python tools/benchmark/seed_throughput.py --device cuda --images 200
    python tools/benchmark/seed_throughput.py --device cuda --images 400 --methods cam \
        --batch 16 --autocast fp16

``--tiny``: a tiny random CLIP (configs/_base_/models/clip_tiny.py) and 96x64 images, to check
that the script runs.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np
from mmengine.config import Config, DictAction

from wsss.utils.benchmark import ProcessTreePeak, Stopwatch, run_in_child, synchronize

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(cam='configs/clip_es/clip-es_vit-b16_voc12-train.py',
               crf='configs/clip_es/clip-es_vit-b16_crf_voc12-train.py',
               fma='configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py')
NAMES = dict(cam='CLIP-ES CAM + CAA', crf='CLIP-ES + CRF', fma='FMA-WSSS fine seeds')
STAGES = ('load', 'CLIP', 'CAA', 'CRF/SAMS', 'write', 'wait')
TINY_CLIP = osp.join(ROOT, 'configs/_base_/models/clip_tiny.py')


# ---------------------------------------------------------------- data
def make_data(root: str, images: int, size: tuple = (375, 500)) -> str:
    """VOC-layout images of 375x500 and, for SAMS, synthetic SAM masks: per object the whole
    (level 2), its halves (1) and quarters (0), plus 30 random boxes of every level."""
    from pycocotools import mask as mask_utils

    from wsss.datasets.synthetic import make_synthetic_voc
    from wsss.io.sam_masks import mask_path, save_masks
    from wsss.io.seeds import read_label_map
    make_synthetic_voc(root, (('train', images),), size=size)
    rng = np.random.default_rng(0)
    for i in range(images):
        name = f'train_{i:04d}'
        label = read_label_map(osp.join(root, 'SegmentationClass', name + '.png'))
        h, w = label.shape
        masks = []
        for c in (v for v in np.unique(label) if 0 < v < 255):
            whole = label == c
            ys, xs = np.nonzero(whole)
            my, mx = int(np.median(ys)), int(np.median(xs))
            masks.append((whole, 2))
            for part in (np.s_[:my], np.s_[my:]):
                m = np.zeros_like(whole)
                m[part] = whole[part]
                masks.append((m, 1))
            for part in (np.s_[:my, :mx], np.s_[:my, mx:], np.s_[my:, :mx], np.s_[my:, mx:]):
                m = np.zeros_like(whole)
                m[part] = whole[part]
                masks.append((m, 0))
        for _ in range(30):
            y, x = rng.integers(0, h - 40), rng.integers(0, w - 40)
            m = np.zeros((h, w), bool)
            m[y:y + rng.integers(20, h - y), x:x + rng.integers(20, w - x)] = True
            masks.append((m, int(rng.integers(0, 3))))
        records = []
        for m, level in masks:
            if not m.any():
                continue
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            records.append(dict(segmentation=rle, level=level, predicted_iou=0.9,
                                stability_score=0.95, area=int(m.sum()),
                                bbox=[float(v) for v in mask_utils.toBbox(rle)]))
        save_masks(mask_path(osp.join(root, 'sam_masks'), name), records, (h, w))
    return root


# ---------------------------------------------------------------- one run (child process)
def load_cfg(method: str, data: str, work: str, tiny: bool = False):
    from wsss.apis import load_config
    cfg = load_config(osp.join(ROOT, CONFIGS[method]))
    cfg.work_dir = work
    cfg.load_from = None  # FMA's learned prompts: random ones here
    cfg.model.clip.pretrained = None
    if tiny:  # the instant-test configs' tiny random CLIP (3 blocks)
        cfg.model.update(clip=Config.fromfile(TINY_CLIP).tiny_clip, num_attn_layers=2)
    cfg.test_dataloader.dataset.update(data_root=data, split='train')
    if method == 'fma':
        cfg.model.seeder.mask_dir = osp.join(data, 'sam_masks')
    return cfg


def run_baseline(cfg, seed_dir: str, watch: Stopwatch, monitor: ProcessTreePeak,
                 warmup: int = 0) -> float:
    """The released code's order with wsss's pieces; returns the seconds from the end of the
    first ``warmup`` images to the end of the job."""
    import torch

    from wsss.evaluation import SeedWriter
    from wsss.models.clip_es.cam import gradcam_per_class_loop
    from wsss.registry import DATASETS, MODELS
    torch.manual_seed(0)
    cfg.model.defer_seeding = True  # the seeder runs in the writer: here, in this process
    model = MODELS.build(cfg.model).to(cfg.device).eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    writer = SeedWriter(seed_dir, workers=0)  # seeder and PNG writes one image after another
    monitor.start()
    start = time.perf_counter()
    text = model.predict_text_features()
    later = []  # CRF / SAMS run after all CAMs, as the released scripts do
    with watch.listen():  # the library's stages: 'caa', 'resize'
        for i in range(len(dataset)):
            if i == warmup:
                synchronize(cfg.device)
                start = time.perf_counter()
            with watch('load'):
                data = dataset[i]
            sample = data['data_samples']
            labels = model.sample_labels(sample)
            with watch('CLIP'):  # one forward, one backward per class
                cams, = model.batch_cams(data['inputs'][None], labels[None], text,
                                         gradcam=gradcam_per_class_loop)
                model.set_seed(sample, cams, (labels.nonzero()[:, 0] + 1).tolist())
            if cfg.method == 'cam':
                writer.process(None, [sample.to_dict()])
            else:
                later.append(sample)
        for sample in later:
            writer.process(None, [sample.to_dict()])
    synchronize(cfg.device)
    seconds = time.perf_counter() - start
    add_model_stages(watch, writer.seconds)
    watch.seconds['wait'] = 0.0  # the writes are the stages above, in this process
    return seconds


def add_model_stages(watch: Stopwatch, writer_seconds: Dict[str, float]) -> None:
    """CAA from the library's stage marks, taken out of CLIP (the model's time holds them), and
    the writer's seeder, write and wait seconds."""
    watch.seconds['CAA'] = watch.seconds.pop('caa', 0.0) + watch.seconds.pop('resize', 0.0)
    watch.seconds['CLIP'] -= watch.seconds['CAA']
    watch.seconds['CRF/SAMS'] = writer_seconds['seeder']
    watch.seconds['write'] = writer_seconds['write']
    watch.seconds['wait'] = writer_seconds['wait']


def run_wsss(cfg, seed_dir: str, watch: Stopwatch, monitor: ProcessTreePeak, options: dict,
             profile: bool = False, batch: int = 0, autocast: Optional[str] = None,
             warmup: int = 0) -> float:
    """tools/generate_seeds.py's test loop, timed (and profiled, with ``profile``: the model's
    process, torch.profiler's table of operators by total CPU time); returns the seconds from
    the end of the batch that completes the first ``warmup`` images (the loader's and the
    pool's start, kernel autotuning) to the last file written (the pool drained)."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from wsss.apis import use_image_batches
    cfg.test_dataloader.sampler.update(seed_dir=seed_dir)
    cfg.test_evaluator.update(seed_dir=seed_dir)
    cfg.model.defer_seeding = True
    cfg.model.autocast = autocast
    if batch:
        use_image_batches(cfg, batch)
    cfg.merge_from_dict(options)
    cfg.default_hooks.logger.interval = 10 ** 6
    cfg.custom_hooks = []
    class Clock(Hook):
        """Load: from the end of one iteration (or the start) to the next batch's arrival."""

        def before_test_epoch(self, runner) -> None:
            self.last, self.images = time.perf_counter(), 0
            watch.start = self.last if warmup == 0 else None

        def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
            watch.seconds['load'] += time.perf_counter() - self.last

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            self.images += len(outputs)
            if watch.start is None and self.images >= warmup:
                synchronize(cfg.device)
                watch.start, watch.warm_images = time.perf_counter(), self.images
            self.last = time.perf_counter()

    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Clock())
    watch.time_forward('CLIP', runner.model)  # predict: forward hooks
    monitor.start()
    watch.warm_images = 0
    with watch.listen():  # the library's stages: 'caa', 'resize'
        if profile:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                runner.test()
            watch.profile = prof.key_averages().table(sort_by='cpu_time_total', row_limit=25)
        else:
            runner.test()
    synchronize(cfg.device)
    seconds = time.perf_counter() - watch.start
    if batch or autocast:
        model = getattr(runner.model, 'module', runner.model)
        watch.cam_difference = cam_difference(model, runner.test_dataloader.dataset,
                                               max(batch, 2))
    add_model_stages(watch, runner.test_loop.evaluator.metrics[0].seconds)
    return seconds


def cam_difference(model, dataset, n: int) -> Dict[str, float]:
    """Largest |CAM - reference CAM| over the first ``n`` images of ``dataset`` (of one size),
    the model's settings against one image at a time in fp32: of the GradCAMs (CAA off) and of
    the CAA-refined CAMs (the model's setting)."""
    import torch
    data = [dataset[i] for i in range(min(n, len(dataset)))]
    images = torch.stack([d['inputs'] for d in data])
    labels = torch.stack([model.sample_labels(d['data_samples']) for d in data])
    text = model.predict_text_features()
    settings = model.autocast, model.caa

    def cams(caa: bool, autocast: Optional[str], batched: bool) -> list:
        model.caa, model.autocast = caa, autocast
        if batched:
            return model.batch_cams(images, labels, text)
        return [model.image_cams(image, row, text) for image, row in zip(images, labels)]

    out = {}
    try:
        for name, caa in (('GradCAM', False), ('CAM', settings[1])):
            pairs = zip(cams(caa, settings[0], True), cams(caa, None, False))
            out[name] = max(float((a - b).abs().max()) for a, b in pairs if a.numel())
    finally:
        model.autocast, model.caa = settings
    return out


def child(args: argparse.Namespace, method: str, variant: str, data: str, work: str) -> dict:
    """One (method, variant) run, in a child process of its own: its times, memory, stages."""
    if not str(args.device).startswith('cuda'):
        # mmengine's Runner puts the model on a GPU whenever one is visible; the baseline
        # follows --device: hide the GPUs so that both run where asked
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    from wsss.utils import register_all_modules
    register_all_modules()
    cfg = load_cfg(method, data, work, args.tiny)
    cfg.method, cfg.device = method, args.device
    watch = Stopwatch(args.device)  # stages synchronised on a GPU
    seed_dir = osp.join(work, 'seeds')
    monitor = ProcessTreePeak()
    if variant == 'wsss':
        seconds = run_wsss(cfg, seed_dir, watch, monitor, args.cfg_options, args.profile,
                           args.batch, args.autocast, args.warmup)
        timed = args.images - watch.warm_images
        if timed <= 0:
            raise SystemExit(f'error: no image left to time after --warmup {args.warmup} '
                             f'(whole batches of {cfg.test_dataloader.batch_size}): raise --images')
    else:
        seconds = run_baseline(cfg, seed_dir, watch, monitor, args.warmup)
        timed = args.images - args.warmup
    peak = monitor.stop() / 2 ** 20
    import torch
    gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 20 \
        if str(args.device).startswith('cuda') else None
    return dict(seconds=seconds, images=timed, peak_mib=peak, gpu_peak_mib=gpu_peak,
                stages={s: watch.seconds.get(s, 0.0) for s in STAGES},
                cam_difference=getattr(watch, 'cam_difference', None),
                profile=getattr(watch, 'profile', None))


# ---------------------------------------------------------------- parent
def run_child(args, method: str, variant: str, data: str, work: str) -> dict:
    result = run_in_child(child, args, method, variant, data, work)
    if result['profile']:
        print(result['profile'])
    return result


def seed_differences(a: str, b: str) -> str:
    from wsss.io.seeds import read_label_map
    names = sorted(f for f in os.listdir(a) if not f.endswith('_conf.png'))
    if sorted(f for f in os.listdir(b) if not f.endswith('_conf.png')) != names:
        return 'different files'
    diff = total = 0
    for name in names:
        x, y = read_label_map(osp.join(a, name)), read_label_map(osp.join(b, name))
        diff, total = diff + int((x != y).sum()), total + x.size
    return f'{diff}/{total} seed pixels differ'


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--images', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=1, help='runs of every (method, variant)')
    parser.add_argument('--methods', nargs='+', choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument('--profile', action='store_true',
                        help="print torch.profiler's table of the wsss runs' model process")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides of the wsss runs (test_evaluator.workers=1, ...)')
    parser.add_argument('--batch', type=int, default=0, metavar='N',
                        help='wsss runs: up to N same-size images per forward (generate_seeds '
                             '--batch)')
    parser.add_argument('--autocast', choices=['fp16', 'bf16'],
                        help='wsss runs: the ViT under torch.autocast (generate_seeds --autocast)')
    parser.add_argument('--warmup', type=int, default=None, metavar='N',
                        help='images not timed at the start (the loader and pool start, kernel '
                             'autotuning), rounded up to whole batches; default 0 on the CPU, '
                             '16 on a GPU')
    parser.add_argument('--tiny', action='store_true',
                        help='a tiny random CLIP and 96x64 images (checks that it runs)')
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = 0 if args.device == 'cpu' else 16
    if not 0 <= args.warmup < args.images:
        raise SystemExit(f'error: --warmup must be in [0, --images), got {args.warmup}')

    import torch
    # no preload_for_children: each run imports its libraries itself, so that their pages
    # count in its PSS as in a fresh process (shared pages are split among their holders)
    tmp = tempfile.mkdtemp(prefix='seed_throughput_')
    size = (64, 96) if args.tiny else (375, 500)
    data = make_data(osp.join(tmp, 'voc'), args.images, size)
    print(f'device {args.device}, torch {torch.__version__}, {os.cpu_count()} CPUs, '
          f'{"tiny CLIP" if args.tiny else "ViT-B/16"} (random weights), {args.images} images '
          f'{size[1]}x{size[0]}, {args.repeats} repeat(s), wsss: '
          f'batch {args.batch or 1}, autocast {args.autocast or "off (fp32)"}\n')
    header = ('| method | variant | run | images/s | peak MiB | GPU peak MiB | '
              + ' | '.join(f'{s} s/img (%)' for s in STAGES) + ' | speed-up |')
    print(header + '\n' + '|---' * (header.count('|') - 1) + '|')
    for r in range(args.repeats):
        for method in args.methods:
            results = {}
            for variant in ('baseline', 'wsss'):
                work = osp.join(tmp, f'{method}_{variant}_{r}')
                results[variant] = run_child(args, method, variant, data, work)
            base = results['baseline']['images'] / results['baseline']['seconds']
            for variant, res in results.items():
                total = sum(res['stages'].values()) or 1
                stages = ' | '.join(
                    f"{res['stages'][s] / args.images:.2f} ({100 * res['stages'][s] / total:.0f})"
                    for s in STAGES)
                gpu = res['gpu_peak_mib']
                print(f"| {NAMES[method]} | {variant} | {r + 1} | "
                      f"{res['images'] / res['seconds']:.3f} | {res['peak_mib']:.0f} | "
                      f"{'-' if gpu is None else f'{gpu:.0f}'} | {stages} | "
                      f"{res['images'] / res['seconds'] / base:.2f}x |", flush=True)
            seeds = [osp.join(tmp, f'{method}_{v}_{r}', 'seeds') for v in ('baseline', 'wsss')]
            cam_diff = results['wsss']['cam_difference']
            print(f'| | seeds: {seed_differences(*seeds)}'
                  + ('' if cam_diff is None else
                     '; largest difference to one-by-one fp32: ' + ', '.join(
                         f'{k} {v:.2e}' for k, v in cam_diff.items())) + ' |', flush=True)
    print(f'\nfiles in {tmp}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
