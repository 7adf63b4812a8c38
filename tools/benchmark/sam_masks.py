"""Speed and peak memory of SAM automatic mask generation (docs/fma_wsss.md, SAM masks).

Generators, at the same settings:

  stock      segment-anything's SamAutomaticMaskGenerator ('coco_rle' output)
  wsss       LevelAwareMaskGenerator with offsets (0, 0, 0) and no rock-sand-water filter, one
             crop per encoder call: must return exactly the stock masks (checked; exit 1
             otherwise)
  wsss-fma   LevelAwareMaskGenerator with FMA-WSSS's level-aware changes (other masks) and its
             default crop batch (all crops in one encoder call); bfloat16: device_kit/

Settings are FMA-WSSS's (32 points a side, one crop layer, IoU 0.86, stability 0.92, small
regions < 100 px removed); on a CPU the defaults are smaller (8 points a side, no crop layer,
ViT-B, one image) so that the run takes minutes. Images: synthetic VOC-sized (375x500) pictures.
Without --checkpoint the weights are random, which predict IoUs and mask logits near 0 so that no
mask would pass the filters (and the stock generator fails on an image without masks): the IoU
head's output is raised by 0.82 and the mask logits scaled by 300, after which about half the masks
pass each filter, as with trained weights; the masks themselves stay random blobs, fewer and
larger than a trained SAM's, so the time spent after the decoder is a lower bound.

Timing: one process, one SAM, the generators taking turns image by image, so that load drift hits
them alike; each one's time is split into image encoder, mask decoder and the rest (hooks on the
two modules, synchronised on CUDA). Peak memory: each generator on the first image in a process
of its own (the same seed gives the same weights), in all above what that process held before
the image, and after the image encoder above what it held with the crop's embedding (the
encoder's activations are the same for all generators and dominate the first figure); CUDA:
max_memory_allocated, CPU: peak RSS (VmHWM).

    python tools/benchmark/sam_masks.py                                    # CPU: a few minutes
    python tools/benchmark/sam_masks.py --device cuda --model-type vit_h --images 20 \\
        [--checkpoint sam_vit_h_4b8939.pth]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.modeling import Sam

from wsss.datasets.synthetic import make_sample
from wsss.models.sam import LevelAwareMaskGenerator, build_sam

GENERATORS = ('stock', 'wsss', 'wsss-fma')
NO_LEVELS = dict(score_thresh_offset=(0, 0, 0), score_nms_offset=(0, 0, 0),
                 rock_sand_water_thresh=None)


def parse_args() -> argparse.Namespace:
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
                        help="wsss generators' prompt batch (the stock one keeps its 64)")
    parser.add_argument('--memory-of', choices=GENERATORS, help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
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
    sam = build_sam(args.model_type, args.checkpoint).to(args.device)
    if args.checkpoint is None:
        # Make random weights pass the filters about as often as trained ones (see above).
        decoder = sam.mask_decoder
        decoder.iou_prediction_head.layers[-1].bias.add_(0.82)
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(300)
            mlp.layers[-1].bias.mul_(300)
    return sam


def make_generator(name: str, sam: Sam,
                   args: argparse.Namespace) -> SamAutomaticMaskGenerator:
    settings = dict(points_per_side=args.points_per_side, pred_iou_thresh=0.86,
                    stability_score_thresh=0.92, stability_score_offset=1.0,
                    box_nms_thresh=0.7, crop_n_layers=args.crop_n_layers, crop_nms_thresh=0.7,
                    crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=2,
                    min_mask_region_area=100)
    if name == 'stock':
        return SamAutomaticMaskGenerator(sam, output_mode='coco_rle', **settings)
    if name == 'wsss':
        return LevelAwareMaskGenerator(sam, points_per_batch=args.points_per_batch, crop_batch=1,
                                       **settings, **NO_LEVELS)
    return LevelAwareMaskGenerator(sam, points_per_batch=args.points_per_batch, **settings)


def make_images(n: int) -> List[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.ascontiguousarray(make_sample(rng, (375, 500))[0][..., ::-1]) for _ in range(n)]


class StageTimer:
    """Wall time in the forward of the image encoder and the mask decoder, per generator
    (``current``), synchronised on CUDA."""

    def __init__(self, sam: Sam, cuda: bool) -> None:
        self.cuda, self.current = cuda, ''
        self.seconds: Dict[str, float] = defaultdict(float)
        for stage, module in (('encoder', sam.image_encoder), ('decoder', sam.mask_decoder)):
            module.register_forward_pre_hook(self._start)
            module.register_forward_hook(lambda m, i, o, stage=stage: self._stop(stage))

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def _start(self, module, inputs) -> None:
        self.sync()
        self.t0 = time.perf_counter()

    def _stop(self, stage: str) -> None:
        self.sync()
        self.seconds[f'{self.current}/{stage}'] += time.perf_counter() - self.t0


class PeakMemory:
    """Peak memory in named windows of time: CUDA max_memory_allocated, or on a CPU the peak RSS
    (VmHWM, restarted through /proc/self/clear_refs, Linux >= 4.0)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda, self.name, self.base, self.highest = cuda, None, 0, 0
        self.rise: Dict[str, int] = defaultdict(int)  # name -> largest rise within one window

    def _peak(self) -> int:
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated()
        with open('/proc/self/status') as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith('VmHWM'))

    def window(self, name: Optional[str]) -> None:
        """End the current window and start one called ``name`` (None: just end)."""
        if self.name is not None:
            peak = self._peak()
            self.highest = max(self.highest, peak)
            self.rise[self.name] = max(self.rise[self.name], peak - self.base)
        self.name = name
        if name is None:
            return
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self.base = self._peak()


def peak_memory(args: argparse.Namespace) -> Dict[str, int]:
    """Bytes one generator needs on the first image: in all, above what the process held before,
    and after the image encoder, above what it held with a crop's embedding (max over crops)."""
    sam = load_sam(args)
    generator = make_generator(args.memory_of, sam, args)
    images = make_images(args.warmup + 1)
    for image in images[:-1]:
        generator.generate(image)
    memory = PeakMemory(args.device.startswith('cuda'))
    sam.image_encoder.register_forward_pre_hook(lambda m, i: memory.window('encoder'))
    sam.image_encoder.register_forward_hook(lambda m, i, o: memory.window('after encoder'))
    memory.window('start')
    start = memory.base
    generator.generate(images[-1])
    memory.window(None)
    return dict(all=memory.highest - start, after_encoder=memory.rise['after encoder'])


def peak_memory_in_subprocess(name: str) -> Dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'peak.json')
        subprocess.run([sys.executable, __file__, *sys.argv[1:], '--memory-of', name,
                        '--out', out], check=True)
        with open(out) as f:
            return json.load(f)


def main() -> None:
    args = parse_args()
    if args.memory_of:
        with open(args.out, 'w') as f:
            json.dump(peak_memory(args), f)
        return
    cuda = args.device.startswith('cuda')
    sam = load_sam(args)
    generators = {name: make_generator(name, sam, args) for name in GENERATORS}
    images = make_images(args.warmup + args.images)
    for image in images[:args.warmup]:
        for generator in generators.values():
            generator.generate(image)
    timer = StageTimer(sam, cuda)
    masks: Dict[str, List[List[dict]]] = defaultdict(list)
    for i, image in enumerate(images[args.warmup:]):
        print(f'image {i + 1}/{args.images}', flush=True)
        for name, generator in generators.items():
            timer.current = name
            timer.sync()
            start = time.perf_counter()
            masks[name].append(generator.generate(image))
            timer.sync()
            timer.seconds[name] += time.perf_counter() - start
    peaks = {name: peak_memory_in_subprocess(name) for name in GENERATORS}

    same = [[{k: v for k, v in m.items() if k != 'level'} for m in image]
            for image in masks['wsss']] == masks['stock']
    n, seconds = args.images, timer.seconds
    weights = args.checkpoint or 'random weights (calibrated, see the docstring)'
    device = torch.cuda.get_device_name(args.device) if cuda else \
        f'CPU, {torch.get_num_threads()} threads'
    print(f'\nSAM {args.model_type}, {weights}; {device}; {n} image(s) 375x500 after '
          f'{args.warmup} warm-up; points_per_side={args.points_per_side}, '
          f'crop_n_layers={args.crop_n_layers}, other settings FMA-WSSS\'s; wsss '
          f'points_per_batch={args.points_per_batch}\n')
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
