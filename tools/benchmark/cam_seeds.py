"""Throughput and peak memory of CAM + CAA seed generation (CLIP-ES, docs/clip_es.md).

Per image: softmax-GradCAMs of all its labelled classes, CAA refinement, resize to the image size,
argmax seed (``cams_to_seed``). Variants:

  loop-forward   one full encoder forward AND one backward per labelled class
                 (``gradcam_per_class_loop`` of one class after each forward): the straightforward
                 baseline (CLIP-ES runs blocks 1-11 once and re-runs the last block per class)
  loop-backward  one forward, one backward per class (``gradcam_per_class_loop``)
  batched        wsss's ``softmax_gradcam``: one forward, one backward per class slot of the batch
                 (for one image the same passes as loop-backward)

A real ViT-B-16 with random weights (no download), random VOC-sized inputs, text features of the
20 VOC prompt names + 25 background words computed once, 1/2/3 labels per image in turn. Timing:
one process, the variants interleaved image by image, so load drift hits them alike. Peak memory,
above what the process holds after building the model: CUDA max_memory_allocated (reset before
each call, max over the images); on CPU peak RSS (VmHWM) of one image with the most labels, in a
fresh child process per variant (``wsss.utils.benchmark.run_in_child``). The variants' GradCAMs
(the only step that differs) must agree to 1e-4, else exit 1; CAA and seed differences are
printed too. ``--tiny``: a tiny random CLIP (configs/_base_/models/clip_tiny.py) instead of
ViT-B/16, to check that the script runs.

    python tools/benchmark/cam_seeds.py --device cpu  # ~2 min on a slow 2-core machine
    python tools/benchmark/cam_seeds.py --device cuda --images 200 --warmup 10
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config

from wsss.datasets.class_names import VOC12_BACKGROUND_WORDS, VOC12_PROMPT_NAMES
from wsss.models.clip import CLIPDenseEncoder, DenseOutput, TextEncoder, build_clip, build_tokenizer
from wsss.models.clip_es.cam import (
    attention_affinity,
    caa_refine,
    cams_to_seed,
    gradcam_per_class_loop,
    resize_cams,
    softmax_gradcam,
)
from wsss.utils.benchmark import PeakMemory, preload_for_children, run_in_child, timed

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CLIP = osp.join(ROOT, 'configs/_base_/models/clip_tiny.py')

VARIANTS = {'loop-forward': 'per-class loop (fwd+bwd per class)',
            'loop-backward': 'per-class backward (1 fwd, K bwd)',
            'batched': 'wsss softmax_gradcam (1 fwd, a backward per class slot)'}
Sample = Tuple[torch.Tensor, torch.Tensor]  # (1, 3, H, W) normalised image, (C,) multi-hot labels
Setup = Tuple[CLIPDenseEncoder, torch.Tensor, torch.Tensor]  # encoder, text features, logit scale
Output = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # GradCAMs, CAA CAMs (K, h, w), seed


def build(device: str, tiny: bool = False) -> Setup:
    torch.manual_seed(0)  # the same random weights in every process
    settings = Config.fromfile(TINY_CLIP).tiny_clip.to_dict() if tiny else dict(
        name='ViT-B-16', pretrained=None)
    clip = build_clip(**settings, device=device)
    text = TextEncoder(clip, build_tokenizer(settings['name'], settings.get('model_cfg'))
                       ).encode_classes(VOC12_PROMPT_NAMES + VOC12_BACKGROUND_WORDS)
    layers = min(8, len(clip.visual.transformer.resblocks))
    return CLIPDenseEncoder(clip.visual, num_attn_layers=layers), text, clip.logit_scale.exp()


def make_samples(n: int, label_counts: List[int], sizes: List[Tuple[int, int]],
                 device: str) -> List[Sample]:
    gen = torch.Generator().manual_seed(0)
    samples = []
    for i in range(n):
        labels = torch.zeros(len(VOC12_PROMPT_NAMES), dtype=torch.long)
        labels[torch.randperm(len(labels), generator=gen)[:label_counts[i % len(label_counts)]]] = 1
        image = torch.randn(1, 3, *sizes[i % len(sizes)], generator=gen)
        samples.append((image.to(device), labels.to(device)))
    return samples


def grad_cams(variant: str, setup: Setup, image: torch.Tensor,
              labels: torch.Tensor) -> Tuple[torch.Tensor, DenseOutput]:
    """(K, h, w) normalised softmax-GradCAMs of the labelled classes, and a forward's output."""
    encoder, text, scale = setup
    with torch.enable_grad():
        if variant == 'loop-forward':
            cams, first = [], None
            for c in labels.nonzero()[:, 0].tolist():
                out = encoder(image)  # the whole dense encoder again for every class
                first = out if first is None else first
                cams.append(gradcam_per_class_loop(out.ln1, out.image_feature, text,
                                                   labels[None], scale, out.grid,
                                                   classes=[c])[0])
            return torch.cat(cams), first
        out = encoder(image)
        fn = gradcam_per_class_loop if variant == 'loop-backward' else softmax_gradcam
        return fn(out.ln1, out.image_feature, text, labels[None], scale, out.grid)[0], out


def seed_one(variant: str, setup: Setup, sample: Sample) -> Output:
    image, labels = sample
    cams, out = grad_cams(variant, setup, image, labels)
    refined = caa_refine(cams.detach(), attention_affinity(out.attn)[0], threshold=0.4)
    full = resize_cams(refined, image.shape[-2:]).clamp_(0, 1)
    seed, _ = cams_to_seed(full, (labels.nonzero()[:, 0] + 1).tolist())
    return cams.detach().cpu(), refined.cpu(), torch.from_numpy(seed)


def cpu_peak_mib(variant: str, args: argparse.Namespace) -> float:
    """In a fresh process: peak RSS of one image (the most labels, the largest size) above the RSS
    after the build; the build's own transient peak is cleared first (Linux only)."""
    setup = build('cpu', args.tiny)
    size = max(args.sizes, key=lambda hw: hw[0] * hw[1])
    sample = make_samples(1, [max(args.labels)], [size], 'cpu')[0]
    memory = PeakMemory('cpu')
    memory.start()
    seed_one(variant, setup, sample)
    return memory.rise() / 2 ** 20


def benchmark(args: argparse.Namespace) -> Tuple[Dict[str, List[float]], Dict[str, float],
                                                 Dict[str, List[Output]], List[int]]:
    """Times, peak memory (CUDA) and outputs per variant, the variants interleaved per image."""
    cuda = args.device.startswith('cuda')
    setup = build(args.device, args.tiny)
    samples = make_samples(args.warmup + args.images, args.labels, args.sizes, args.device)
    times = {v: [] for v in VARIANTS}
    peaks = {v: 0.0 for v in VARIANTS}
    outputs = {v: [] for v in VARIANTS}
    memory = PeakMemory(args.device)
    for i, sample in enumerate(samples):
        for variant in VARIANTS:
            if cuda:
                memory.start()
            seconds, out = timed(lambda: seed_one(variant, setup, sample), args.device)
            if i < args.warmup:
                continue
            times[variant].append(seconds)
            outputs[variant].append(out)
            if cuda:
                peaks[variant] = max(peaks[variant], memory.rise() / 2 ** 20)
    counts = [int(labels.sum()) for _, labels in samples[args.warmup:]]
    return times, peaks, outputs, counts


def parse_size(text: str) -> Tuple[int, int]:
    height, width = map(int, text.lower().split('x'))
    return height, width


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--images', type=int, default=6, help='timed images per variant')
    parser.add_argument('--warmup', type=int, default=1, help='untimed images first')
    parser.add_argument('--labels', type=int, nargs='+', default=[1, 2, 3],
                        help='labels per image, cycled')
    parser.add_argument('--sizes', type=parse_size, nargs='+',
                        help='HxW, multiples of 16, cycled (default: 320x480 on CPU; 320x480 '
                        '336x496 368x496 496x368 on CUDA)')
    parser.add_argument('--tiny', action='store_true',
                        help='a tiny random CLIP instead of ViT-B/16 (checks that it runs)')
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([(320, 480)] if args.device == 'cpu' else
                                [(320, 480), (336, 496), (368, 496), (496, 368)])
    preload_for_children([__name__])  # the figures are rises above the built model
    times, peaks, outputs, counts = benchmark(args)
    if args.device == 'cpu':
        for variant in VARIANTS:
            # glibc: big buffers from mmap, returned on free, so RSS follows the live tensors
            # instead of heap kept from the build (stable numbers, not a lower bound)
            peaks[variant] = run_in_child(cpu_peak_mib, variant, args, mmap_threshold=65536)

    print(f'device: {args.device}'
          + (f' ({torch.cuda.get_device_name()})' if args.device.startswith('cuda') else '')
          + f', torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'{"tiny CLIP" if args.tiny else "ViT-B-16"} (random '
          f'weights), {args.images} images ({args.warmup} warm-up), labels/image {args.labels}, '
          f'sizes {" ".join(f"{h}x{w}" for h, w in args.sizes)}\n')
    ms = {v: 1000 * sum(t) / len(t) for v, t in times.items()}
    ks = sorted(set(counts))
    print('| variant | images/s | ms/image | ' + ' | '.join(f'ms/image K={k}' for k in ks)
          + ' | peak MiB (above model) | speed-up |')
    print('|---' * (5 + len(ks)) + '|')
    for variant, name in VARIANTS.items():
        per_k = [1000 * sum(t for t, c in zip(times[variant], counts) if c == k) / counts.count(k)
                 for k in ks]
        print(f'| {name} | {1000 / ms[variant]:.2f} | {ms[variant]:.0f} | '
              + ' | '.join(f'{v:.0f}' for v in per_k)
              + f' | {peaks[variant]:.0f} | {ms["loop-forward"] / ms[variant]:.2f}x |')

    ok = True
    for variant in ('loop-forward', 'loop-backward'):
        pairs = list(zip(outputs[variant], outputs['batched']))
        cam_diff, caa_diff = [max((a[j] - b[j]).abs().max().item() for a, b in pairs)
                              for j in (0, 1)]
        wrong = sum((a[2] != b[2]).sum().item() for a, b in pairs)
        total = sum(b[2].numel() for _, b in pairs)
        ok &= cam_diff <= 1e-4
        print(f'\n{variant} vs batched: max |diff| GradCAM {cam_diff:.1e}, after CAA '
              f'{caa_diff:.1e}; seed pixels differing {wrong}/{total}', end='')
    print('\n' + ('GradCAMs match' if ok else 'GRADCAMS DIFFER') + ' (tolerance 1e-4). With random '
          'weights the attention is ~uniform, so CAA min-max-normalises a nearly flat map and '
          'amplifies float noise: CAA and seed differences there are not the variants\' doing.')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
