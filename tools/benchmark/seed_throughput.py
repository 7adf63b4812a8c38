"""End-to-end seed generation throughput: wsss's seed job against the released code's order.

Methods (the bundled configs, with a random ViT-B/16: no download):

  cam   CLIP-ES CAM + CAA, argmax seeds        configs/clip_es/clip-es_vit-b16_voc12-train.py
  crf   CLIP-ES + dense CRF and CGL            configs/clip_es/clip-es_vit-b16_crf_voc12-train.py
  fma   FMA-WSSS fine seeds (SAMS, bg 0.7)
        configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py

Variants, each in a fresh process on the same generated VOC-sized images (500x375 JPEGs, 1-3
labels; synthetic SAM masks for fma):

  baseline  the released code's order, built from wsss's own pieces: per image load, one forward,
            one backward per class (``gradcam_per_class_loop``), CAA, resize; then the seeder and
            the PNG writes, one image after another; CRF / SAMS serially after all CAMs (kept in
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
missed), and the seconds per image of each stage: load, CLIP (forward + GradCAM), CAA (affinity
+ refinement; resize included), CRF/SAMS (the seeder) and write (PNG encoding). For wsss, load
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
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

import numpy as np
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(cam='configs/clip_es/clip-es_vit-b16_voc12-train.py',
               crf='configs/clip_es/clip-es_vit-b16_crf_voc12-train.py',
               fma='configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py')
NAMES = dict(cam='CLIP-ES CAM + CAA', crf='CLIP-ES + CRF', fma='FMA-WSSS fine seeds')
STAGES = ('load', 'CLIP', 'CAA', 'CRF/SAMS', 'write', 'wait')


# ---------------------------------------------------------------- data
def make_data(root: str, images: int) -> str:
    """VOC-layout images of 375x500 and, for SAMS, synthetic SAM masks: per object the whole
    (level 2), its halves (1) and quarters (0), plus 30 random boxes of every level."""
    from pycocotools import mask as mask_utils

    from wsss.datasets.seeds import read_label_map
    from wsss.datasets.synthetic import make_synthetic_voc
    from wsss.models.sam.store import mask_path, save_masks
    make_synthetic_voc(root, (('train', images),), size=(375, 500))
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


# ---------------------------------------------------------------- memory
def _pss_kib(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            return next(int(line.split()[1]) for line in f if line.startswith('Pss:'))
    except (OSError, StopIteration):
        return 0


PAGE_KIB = os.sysconf('SC_PAGE_SIZE') // 1024


def _rss_kib(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/statm') as f:
            return int(f.read().split()[1]) * PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def _tree(pid: int) -> List[int]:
    out = [pid]
    try:
        for tid in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{tid}/children') as f:
                for child in f.read().split():
                    out += _tree(int(child))
    except OSError:
        pass
    return out


class PeakMemory(threading.Thread):
    """The peak of the summed PSS of this process and its descendants (Linux).

    Reading a process's PSS (``smaps_rollup``) walks its page tables: about 20 ms for a 1.7 GB
    process, so reading every process's every 50 ms would take a good part of a core from the
    run being timed (on 2 cores it slowed the model by a quarter, and the runs with more
    processes by more). The summed RSS (``statm``, microseconds) is sampled every ``interval``;
    PSS is read when that sum reaches a new high, and every ``pss_every`` seconds (pages that
    fork's copy-on-write duplicates raise PSS but not RSS).
    """

    def __init__(self, interval: float = 0.05, pss_every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.interval, self.pss_every = interval, pss_every
        self.peak, self._done = 0, threading.Event()

    def run(self) -> None:
        top_rss, last = 0, 0.0
        while not self._done.is_set():
            pids = _tree(os.getpid())
            rss = sum(_rss_kib(p) for p in pids)
            if rss > top_rss or time.perf_counter() - last >= self.pss_every:
                top_rss, last = max(top_rss, rss), time.perf_counter()
                self.peak = max(self.peak, sum(_pss_kib(p) for p in pids))
            self._done.wait(self.interval)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak / 1024


# ---------------------------------------------------------------- one run (child process)
class Stopwatch:
    """Seconds per stage, summed; ``wrap`` times a function under a stage's name."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {s: 0.0 for s in STAGES}

    def wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start
        return timed


def load_cfg(method: str, data: str, work: str):
    from wsss.apis import load_config
    cfg = load_config(osp.join(ROOT, CONFIGS[method]))
    cfg.work_dir = work
    cfg.load_from = None  # FMA's learned prompts: random ones here
    cfg.model.clip.pretrained = None
    cfg.test_dataloader.dataset.update(data_root=data, split='train')
    if method == 'fma':
        cfg.model.seeder.mask_dir = osp.join(data, 'sam_masks')
    return cfg


def run_baseline(cfg, seed_dir: str, watch: Stopwatch, monitor: 'PeakMemory',
                 warmup: int = 0) -> float:
    """The released code's order with wsss's pieces; returns the seconds from the end of the
    first ``warmup`` images to the end of the job."""
    import torch

    from wsss.datasets.seeds import confidence_path, seed_path, write_confidence, write_label_map
    from wsss.models.cam import (attention_affinity, caa_refine, gradcam_per_class_loop,
                                 resize_cams)
    from wsss.registry import DATASETS, MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(cfg.device).eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    load, clip = watch.wrap('load', dataset.__getitem__), watch.wrap('CLIP', gradcam_per_class_loop)
    forward = watch.wrap('CLIP', model.encoder)
    affinity, refine = watch.wrap('CAA', attention_affinity), watch.wrap('CAA', caa_refine)
    resize = watch.wrap('CAA', resize_cams)
    seeder = watch.wrap('CRF/SAMS', model.seeder)

    def write(name: str, seed: np.ndarray, confidence: np.ndarray) -> None:
        write_confidence(confidence_path(seed_dir, name), confidence)
        write_label_map(seed_path(seed_dir, name), seed)
    write = watch.wrap('write', write)

    def seed_and_write(cams, class_ids, meta) -> None:
        write(meta['img_name'], *seeder(cams, class_ids, meta))

    monitor.start()
    start = time.perf_counter()
    with torch.no_grad():
        text = model.text_features()
    later = []  # CRF / SAMS run after all CAMs, as the released scripts do
    for i in range(len(dataset)):
        if i == warmup:
            synchronize(cfg.device)
            start = time.perf_counter()
        data = load(i)
        meta = data['data_samples'].metainfo
        labels = torch.as_tensor(np.asarray(meta['img_labels']), device=cfg.device)
        class_ids = (labels.nonzero()[:, 0] + 1).tolist()
        with torch.enable_grad():
            out = forward(model.normalize(data['inputs']))
            cams, = clip(out.ln1, out.image_feature, text, labels[None],
                         model.clip.logit_scale.exp(), out.grid, raw=model.raw_cam,
                         norm_passes=model.cam_norm_passes, target=model.gradcam_target)
        if model.caa:
            cams = refine(cams.detach(), affinity(out.attn, model.sinkhorn_iters)[0],
                          model.box_threshold, model.released, model.raw_cam)
        cams = resize(cams.detach(), meta['ori_shape']).cpu()
        if not model.raw_cam:
            cams.clamp_(0, 1)
        if cfg.method == 'cam':
            seed_and_write(cams, class_ids, meta)
        else:
            later.append((cams, class_ids, meta))
    for item in later:
        seed_and_write(*item)
    synchronize(cfg.device)
    return time.perf_counter() - start


def run_wsss(cfg, seed_dir: str, watch: Stopwatch, monitor: 'PeakMemory', options: dict,
             profile: bool = False, batch: int = 0, autocast: Optional[str] = None,
             warmup: int = 0) -> float:
    """tools/generate_seeds.py's test loop, timed (and profiled, with ``profile``: the model's
    process, torch.profiler's table of operators by total CPU time); returns the seconds from
    the end of the batch that completes the first ``warmup`` images (the loader's and the
    pool's start, kernel autotuning) to the last file written (the pool drained)."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import wsss.models.stage_one as stage_one
    from wsss.apis import use_image_batches
    from wsss.models.stage_one import CLIPCAMModel
    cfg.test_dataloader.sampler.update(seed_dir=seed_dir)
    cfg.test_evaluator.update(seed_dir=seed_dir)
    cfg.model.defer_seeding = True
    cfg.model.autocast = autocast
    if batch:
        use_image_batches(cfg, batch)
    cfg.merge_from_dict(options)
    cfg.default_hooks.logger.interval = 10 ** 6
    cfg.custom_hooks = []
    for name in ('attention_affinity', 'caa_refine', 'resize_cams'):
        setattr(stage_one, name, watch.wrap('CAA', getattr(stage_one, name)))
    CLIPCAMModel.predict = watch.wrap('CLIP', CLIPCAMModel.predict)

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
    monitor.start()
    watch.warm_images = 0
    if profile:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            runner.test()
    else:
        runner.test()
    synchronize(cfg.device)
    seconds = time.perf_counter() - watch.start
    if profile:
        print(prof.key_averages().table(sort_by='cpu_time_total', row_limit=25))
    if batch or autocast:
        model = getattr(runner.model, 'module', runner.model)
        watch.cam_difference = cam_difference(model, runner.test_dataloader.dataset,
                                               max(batch, 2))
    writer = runner.test_loop.evaluator.metrics[0]
    watch.seconds['CLIP'] -= watch.seconds['CAA']  # predict's time holds CAA's
    watch.seconds['CRF/SAMS'] = writer.seconds['seeder']
    watch.seconds['write'] = writer.seconds['write']
    watch.seconds['wait'] = writer.seconds['wait']
    return seconds


def synchronize(device: str) -> None:
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


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


def child(args: argparse.Namespace) -> None:
    from wsss.utils import register_all_modules
    register_all_modules()
    cfg = load_cfg(args.method, args.data, args.work)
    cfg.method, cfg.device = args.method, args.device
    watch = Stopwatch()
    seed_dir = osp.join(args.work, 'seeds')
    monitor = PeakMemory()
    if args.run == 'wsss':
        seconds = run_wsss(cfg, seed_dir, watch, monitor, args.cfg_options, args.profile,
                           args.batch, args.autocast, args.warmup)
        timed = args.images - watch.warm_images
        if timed <= 0:
            raise SystemExit(f'error: no image left to time after --warmup {args.warmup} '
                             f'(whole batches of {cfg.test_dataloader.batch_size}): raise --images')
    else:
        seconds = run_baseline(cfg, seed_dir, watch, monitor, args.warmup)
        timed = args.images - args.warmup
    peak = monitor.stop()
    import torch
    gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 20 \
        if str(args.device).startswith('cuda') else None
    print('RESULT ' + json.dumps(dict(seconds=seconds, images=timed, peak_mib=peak,
                                      gpu_peak_mib=gpu_peak, stages=watch.seconds,
                                      cam_difference=getattr(watch, 'cam_difference', None))))


# ---------------------------------------------------------------- parent
def run_child(args, method: str, variant: str, data: str, work: str) -> dict:
    cmd = [sys.executable, __file__, '--run', variant, '--method', method, '--data', data,
           '--work', work, '--device', args.device, '--batch', str(args.batch),
           '--images', str(args.images), '--warmup', str(args.warmup)] + \
        (['--autocast', args.autocast] if args.autocast else []) + \
        (['--profile'] if args.profile else []) + \
        (['--cfg-options', *(f'{k}={v}' for k, v in args.cfg_options.items())]
         if args.cfg_options else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if args.profile and variant == 'wsss':
        print(proc.stdout[:proc.stdout.find('RESULT ')])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise SystemExit(f'{variant} {method} failed')
    return json.loads(lines[-1][len('RESULT '):])


def seed_differences(a: str, b: str) -> str:
    from wsss.datasets.seeds import read_label_map
    names = sorted(f for f in os.listdir(a) if not f.endswith('_conf.png'))
    if sorted(f for f in os.listdir(b) if not f.endswith('_conf.png')) != names:
        return 'different files'
    diff = total = 0
    for name in names:
        x, y = read_label_map(osp.join(a, name)), read_label_map(osp.join(b, name))
        diff, total = diff + int((x != y).sum()), total + x.size
    return f'{diff}/{total} seed pixels differ'


def main() -> int:
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
    parser.add_argument('--run', choices=['baseline', 'wsss'], help=argparse.SUPPRESS)
    parser.add_argument('--method', choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument('--data', help=argparse.SUPPRESS)
    parser.add_argument('--work', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = 0 if args.device == 'cpu' else 16
    if not 0 <= args.warmup < args.images:
        raise SystemExit(f'error: --warmup must be in [0, --images), got {args.warmup}')
    if args.run:
        child(args)
        return 0

    import torch
    tmp = tempfile.mkdtemp(prefix='seed_throughput_')
    data = make_data(osp.join(tmp, 'voc'), args.images)
    print(f'device {args.device}, torch {torch.__version__}, {os.cpu_count()} CPUs, ViT-B/16 '
          f'(random weights), {args.images} images 500x375, {args.repeats} repeat(s), wsss: '
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
