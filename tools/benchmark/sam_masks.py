"""Speed and peak memory of SAM automatic mask generation (docs/fma_wsss.md, SAM masks).

Generators, at the same settings:

  stock      segment-anything's SamAutomaticMaskGenerator ('coco_rle' output)
  wsss       LevelAwareMaskGenerator with offsets (0, 0, 0) and no rock-sand-water filter, one
             crop per encoder call and the stock prompt batch (64): the same shapes through the
             model, so it must return exactly the stock masks, on a GPU too (checked; exit 1
             otherwise); its gain is the filtering's alone
  wsss-fma   LevelAwareMaskGenerator with FMA-WSSS's level-aware changes (other masks), its
             default crop batch (all crops in one encoder call) and --points-per-batch prompts
             per decoder call; bfloat16: device_kit/

Settings are FMA-WSSS's (32 points a side, one crop layer, IoU 0.86, stability 0.92, small
regions < 100 px removed); on a CPU the defaults are smaller (8 points a side, no crop layer,
ViT-B, one image) so that the run takes minutes. Images: synthetic VOC-sized (375x500) pictures.
Without --checkpoint the weights are random, calibrated so that masks pass the filters
(``wsss.utils.benchmark.calibrate_random_sam``; without it the stock generator fails on an image
without masks); the masks stay random blobs, fewer and larger than a trained SAM's, so the time
spent after the decoder is a lower bound.

Timing: one process, one SAM, the generators taking turns image by image, so that load drift hits
them alike; each one's time is split into image encoder, mask decoder and the rest (hooks on the
two modules, synchronised on CUDA). Peak memory: each generator on the first image in a process
of its own (the same seed gives the same weights), in all above what that process held before
the image, and after the image encoder above what it held with the crop's embedding (the
encoder's activations are the same for all generators and dominate the first figure); CUDA:
max_memory_allocated, CPU: peak RSS (VmHWM) (``wsss.utils.benchmark``). ``--tiny``: the tiny
random SAM and thresholds of configs/sam/sam_tiny_minivoc.py instead, to check that it runs.

    python tools/benchmark/sam_masks.py                                    # CPU: a few minutes
    python tools/benchmark/sam_masks.py --device cuda --model-type vit_h --images 20 \\
        [--checkpoint sam_vit_h_4b8939.pth]
"""
import argparse
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.modeling import Sam

from wsss.datasets.synthetic import make_sample
from wsss.models.sam import LevelAwareMaskGenerator, build_sam
from wsss.utils.benchmark import (
    PeakMemory,
    Stopwatch,
    calibrate_random_sam,
    preload_for_children,
    run_in_child,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(ROOT, 'configs/sam/sam_tiny_minivoc.py')

GENERATORS = ('stock', 'wsss', 'wsss-fma')
STOCK_POINTS_PER_BATCH = 64  # SamAutomaticMaskGenerator's default
NO_LEVELS = dict(score_thresh_offset=(0, 0, 0), score_nms_offset=(0, 0, 0),
                 rock_sand_water_thresh=None)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--images', type=int, help='timed images (default: 10 CUDA, 1 CPU)')
    parser.add_argument('--warmup', type=int, help='untimed images first (default: 1 CUDA, 0 CPU)')
    parser.add_argument('--model-type', choices=['vit_h', 'vit_l', 'vit_b'],
                        help='default: vit_h on CUDA, vit_b on CPU')
    parser.add_argument('--checkpoint', help='SAM weights of --model-type (default: random)')
    parser.add_argument('--points-per-side', type=int, help='default: 32 CUDA, 8 CPU')
    parser.add_argument('--crop-n-layers', type=int, help='default: 1 CUDA, 0 CPU')
    parser.add_argument('--points-per-batch', type=int, default=256,
                        help="wsss-fma's prompt batch (stock and wsss: 64)")
    parser.add_argument('--tiny', action='store_true',
                        help="the tiny random SAM and thresholds of the instant-test config")
    args = parser.parse_args(argv)
    cuda = args.device.startswith('cuda')
    defaults = dict(images=10 if cuda else 1, warmup=1 if cuda else 0,
                    model_type='vit_h' if cuda else 'vit_b',
                    points_per_side=32 if cuda else 8, crop_n_layers=1 if cuda else 0)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def load_sam(args: argparse.Namespace) -> Sam:
    torch.manual_seed(0)  # the same random weights in every process
    if args.tiny:
        return build_sam(model_cfg=Config.fromfile(TINY_CONFIG).model.sam.model_cfg).to(
            args.device)
    sam = build_sam(args.model_type, args.checkpoint).to(args.device)
    if args.checkpoint is None:
        calibrate_random_sam(sam)
    return sam


def make_generator(name: str, sam: Sam,
                   args: argparse.Namespace) -> SamAutomaticMaskGenerator:
    settings = dict(points_per_side=args.points_per_side, pred_iou_thresh=0.86,
                    stability_score_thresh=0.92, stability_score_offset=1.0,
                    box_nms_thresh=0.7, crop_n_layers=args.crop_n_layers, crop_nms_thresh=0.7,
                    crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=2,
                    min_mask_region_area=100)
    if args.tiny:  # thresholds that let a tiny random SAM's masks through
        generator = Config.fromfile(TINY_CONFIG).model.generator
        settings.update({k: generator[k] for k in (
            'pred_iou_thresh', 'stability_score_thresh', 'stability_score_offset',
            'min_mask_region_area')})
    if name == 'stock':
        return SamAutomaticMaskGenerator(sam, output_mode='coco_rle', **settings)
    if name == 'wsss':
        return LevelAwareMaskGenerator(sam, points_per_batch=STOCK_POINTS_PER_BATCH,
                                       crop_batch=1, **settings, **NO_LEVELS)
    return LevelAwareMaskGenerator(sam, points_per_batch=args.points_per_batch, **settings)


def make_images(n: int) -> List[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.ascontiguousarray(make_sample(rng, (375, 500))[0][..., ::-1]) for _ in range(n)]


class PeakWindows:
    """Peak memory in named windows of time (:class:`wsss.utils.benchmark.PeakMemory`): the
    largest rise within a window of each name, and the highest peak of all."""

    def __init__(self, device: str) -> None:
        self.memory, self.name, self.highest = PeakMemory(device), None, 0
        self.rise: Dict[str, int] = defaultdict(int)

    def window(self, name: Optional[str]) -> None:
        """End the current window and start one called ``name`` (None: just end)."""
        if self.name is not None:
            peak = self.memory.peak()
            self.highest = max(self.highest, peak)
            self.rise[self.name] = max(self.rise[self.name], peak - self.memory.base)
        self.name = name
        if name is not None:
            self.memory.start()


def peak_memory(name: str, args: argparse.Namespace) -> Dict[str, int]:
    """Bytes one generator needs on the first image: in all, above what the process held before,
    and after the image encoder, above what it held with a crop's embedding (max over crops)."""
    sam = load_sam(args)
    generator = make_generator(name, sam, args)
    images = make_images(args.warmup + 1)
    for image in images[:-1]:
        generator.generate(image)
    memory = PeakWindows(args.device)
    sam.image_encoder.register_forward_pre_hook(lambda m, i: memory.window('encoder'))
    sam.image_encoder.register_forward_hook(lambda m, i, o: memory.window('after encoder'))
    memory.window('start')
    start = memory.memory.base
    generator.generate(images[-1])
    memory.window(None)
    return dict(all=memory.highest - start, after_encoder=memory.rise['after encoder'])


def time_generators(sam: Sam, generators: Dict[str, SamAutomaticMaskGenerator],
                    images: List[np.ndarray], device: str):
    """Masks and seconds per generator (total, encoder, decoder), the generators taking turns
    image by image; encoder and decoder timed by forward hooks, synchronised on CUDA."""
    watch, calls = Stopwatch(device), dict(encoder=[], decoder=[])
    removers = [watch.time_forward(stage, module, calls[stage]) for stage, module in
                (('encoder', sam.image_encoder), ('decoder', sam.mask_decoder))]
    seconds: Dict[str, float] = defaultdict(float)
    masks: Dict[str, List[List[dict]]] = defaultdict(list)
    for i, image in enumerate(images):
        print(f'image {i + 1}/{len(images)}', flush=True)
        for name, generator in generators.items():
            before = {stage: len(c) for stage, c in calls.items()}
            with watch(name):
                masks[name].append(generator.generate(image))
            for stage, c in calls.items():
                seconds[f'{name}/{stage}'] += sum(t for t, _ in c[before[stage]:])
    for remove in removers:
        remove()
    return masks, {**watch.seconds, **seconds}


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    preload_for_children([__name__])  # the figures are rises within the process
    cuda = args.device.startswith('cuda')
    sam = load_sam(args)
    generators = {name: make_generator(name, sam, args) for name in GENERATORS}
    images = make_images(args.warmup + args.images)
    for image in images[:args.warmup]:
        for generator in generators.values():
            generator.generate(image)
    masks, seconds = time_generators(sam, generators, images[args.warmup:], args.device)
    peaks = {name: run_in_child(peak_memory, name, args) for name in GENERATORS}

    same = [[{k: v for k, v in m.items() if k != 'level'} for m in image]
            for image in masks['wsss']] == masks['stock']
    n = args.images
    weights = 'random weights' if args.tiny else \
        args.checkpoint or 'random weights (calibrated, see the docstring)'
    device = torch.cuda.get_device_name(args.device) if cuda else \
        f'CPU, {torch.get_num_threads()} threads'
    model = 'tiny' if args.tiny else args.model_type
    print(f'\nSAM {model}, {weights}; {device}; {n} image(s) 375x500 after '
          f'{args.warmup} warm-up; points_per_side={args.points_per_side}, '
          f'crop_n_layers={args.crop_n_layers}, other settings FMA-WSSS\'s; '
          f'points_per_batch: stock and wsss {STOCK_POINTS_PER_BATCH}, wsss-fma '
          f'{args.points_per_batch}\n')
    print('| generator | images/s | s/image: encoder | decoder | rest | peak MiB: all '
          '| after the encoder | masks/image | same masks as stock |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name in GENERATORS:
        total, peak = seconds[name], peaks[name]
        rest = total - seconds[f'{name}/encoder'] - seconds[f'{name}/decoder']
        speed = f'{n / total:.3g}'
        memory = [f'{peak[k] / 2 ** 20:.0f}' for k in ('all', 'after_encoder')]
        if name != 'stock':
            speed += f' ({seconds["stock"] / total:.2f}x)'
            memory = [f'{m} ({peak[k] / max(peaks["stock"][k], 1):.2f}x)'
                      for m, k in zip(memory, ('all', 'after_encoder'))]
        verdict = {'stock': '-', 'wsss': 'yes' if same else 'NO', 'wsss-fma': 'other by design'}
        print(f'| {name} | {speed} | {seconds[f"{name}/encoder"] / n:.3g} | '
              f'{seconds[f"{name}/decoder"] / n:.3g} | {rest / n:.3g} | {memory[0]} | '
              f'{memory[1]} | {sum(map(len, masks[name])) / n:.1f} | {verdict[name]} |')
    if not same:
        sys.exit('the wsss generator did not return the stock masks')


if __name__ == '__main__':
    main()
