"""The CPU work per image after the model, step by step, against the previous formulation in the
same run: what a seed job's worker pool (or tools/seed_from_cams.py) spends per image for argmax
and SAMS seeds, and so how many cores keep up with one GPU.

Inputs: the generated VOC-sized images (500x375, 1-3 labels, ~40 synthetic SAM masks each, as
in seed_throughput.py) and smooth random CAMs of their labelled classes (bilinear from a 24x32
grid, as a ViT-B/16's are: a noisy map would make the confidence PNG look dearer than it is).
One thread, the median of ``--repeats`` calls per image, summed over the images. The loader's
work (the CLIP-ES test pipeline: JPEG decode, Pillow bicubic resize, packing) is timed too: it
runs in the loader processes beside, and counts in the cores a GPU needs.

  baseline  what wsss did before: the SAMS painting as the maximum over an (N, P) int64
            product of the masks and their painting ranks, the mask areas as an int64 sum, PNGs
            at PIL's default zlib level 6
  wsss      :func:`wsss.models.seeders.sams.paint_masks` (the same maximum with ranks in the
            smallest integer type, uint8 up to 255 masks, a block of pixels at a time), int32
            areas, PNGs at ``wsss.io.seeds.PNG_COMPRESS_LEVEL``

"No confidence" is a job with ``test_evaluator.save_confidence=False`` (stage two can then not
ignore unconfident pixels); its baseline is the default job's writes.
The rows that did not change (reading the masks, the argmax seeder, the mask scores) are timed
once and count in both totals; the baseline's seeder is the wsss seeder's time with its painting
and areas replaced by the baseline's. The two paintings are checked to give the same winners.

Then the painting alone against the number of masks N, at VOC's 375x500 and COCO's 480x640:
time and the peak memory it adds (VmHWM, each in a fresh child process): the baseline holds two
N x P int64 arrays, wsss one N x 8192 block of ranks.

    python tools/benchmark/seed_cpu.py                 # ~1 min on a 2-core machine
    python tools/benchmark/seed_cpu.py --gpu-rate 500
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from prettytable import PrettyTable

from wsss.io.sam_masks import image_masks
from wsss.io.seeds import PNG_COMPRESS_LEVEL, read_label_map, write_confidence, write_label_map
from wsss.models.clip_es.cam import cams_to_seed
from wsss.models.seeders.sams import paint_masks, sams_seed
from wsss.utils.benchmark import PeakMemory, run_in_child, torch_threads

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from seed_throughput import CONFIGS, ROOT, make_data  # noqa: E402  (same images and masks)

PIL_DEFAULT_LEVEL = 6


def paint_by_rank_product(masks: torch.Tensor, confidence: torch.Tensor,
                          levels: Sequence[int]) -> torch.Tensor:
    """The baseline painting: each pixel's highest-ranked covering mask, from an (N, P) int64
    product of the masks and their painting ranks (paint_masks's winners, at 8x its arithmetic
    width and without blocks)."""
    levels = torch.as_tensor(levels, dtype=torch.float64)
    order = torch.argsort(confidence.double(), stable=True)
    order = order[torch.argsort(levels[order], stable=True)]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(1, len(order) + 1)
    winner_rank, winner = (masks.long() * rank[:, None]).max(dim=0)
    return torch.where(winner_rank > 0, winner, -1)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def smooth_cams(k: int, size: tuple, rng: torch.Generator) -> torch.Tensor:
    grid = torch.rand(1, k, 24, 32, generator=rng)
    return F.interpolate(grid, size, mode='bilinear', align_corners=False)[0]


def per_image_steps(data: str, images: int, repeats: int, work: str) -> Dict[str, float]:
    """Seconds per image of every step, baseline and wsss, summed over the images / images."""
    from wsss.apis import load_config
    from wsss.datasets import VOC12Dataset
    from wsss.utils import register_all_modules
    register_all_modules()
    pipeline = load_config(osp.join(ROOT, CONFIGS['cam'])).test_dataloader.dataset.pipeline
    dataset = VOC12Dataset(data_root=data, split='train', pipeline=pipeline)
    rng = torch.Generator().manual_seed(0)
    steps: Dict[str, float] = {}

    def add(step: str, fn: Callable[[], object]) -> None:
        steps[step] = steps.get(step, 0.0) + median_seconds(fn, repeats) / images

    for i in range(images):
        name = f'train_{i:04d}'
        label = read_label_map(osp.join(data, 'SegmentationClass', name + '.png'))
        class_ids = [int(c) for c in np.unique(label) if 0 < c < 255]
        cams = smooth_cams(len(class_ids), label.shape, rng)
        mask_dir = osp.join(data, 'sam_masks')
        records, masks = image_masks(mask_dir, name, label.shape)
        levels = [r['level'] for r in records]
        flat = torch.from_numpy(masks).reshape(len(masks), -1)
        confidence = torch.rand(len(masks), generator=rng)
        if not torch.equal(paint_masks(flat, confidence, levels),
                           paint_by_rank_product(flat, confidence, levels)):
            raise AssertionError(f'{name}: the two paintings disagree')

        add('loader', lambda: dataset[i])
        add('read masks', lambda: image_masks(mask_dir, name, label.shape))
        add('SAMS seeder', lambda: sams_seed(cams, class_ids, torch.from_numpy(masks), levels))
        add('areas int64', lambda: flat.sum(dim=1))
        add('areas int32', lambda: flat.sum(dim=1, dtype=torch.int32))
        add('paint baseline', lambda: paint_by_rank_product(flat, confidence, levels))
        add('paint wsss', lambda: paint_masks(flat, confidence, levels))
        add('argmax seeder', lambda: cams_to_seed(cams, class_ids, 1.0))
        for seeder, (seed, conf) in (('SAMS', sams_seed(cams, class_ids, flat.view(masks.shape),
                                                         levels)),
                                     ('argmax', cams_to_seed(cams, class_ids, 1.0))):
            for level in (PIL_DEFAULT_LEVEL, PNG_COMPRESS_LEVEL):
                seed_png = osp.join(work, f'{seeder}{level}', name + '.png')
                conf_png = osp.join(work, f'{seeder}{level}', name + '_conf.png')
                add(f'{seeder} PNGs {level}', lambda: (
                    write_label_map(seed_png, seed, compress_level=level),
                    write_confidence(conf_png, conf, compress_level=level)))
                steps[f'{seeder} KiB {level}'] = steps.get(f'{seeder} KiB {level}', 0.0) + (
                    os.path.getsize(seed_png) + os.path.getsize(conf_png)) / 1024 / images
            add(f'{seeder} seed PNG', lambda: write_label_map(seed_png, seed))
    return steps


PAINTERS = {'baseline': paint_by_rank_product, 'wsss': paint_masks}


def painting(painter: str, n: int, h: int, w: int, repeats: int) -> tuple:
    """Seconds (median) and the peak memory rise in MiB of painting N random masks of h x w; in
    a child process of its own, so that no earlier heap hides the rise."""
    torch.set_num_threads(1)
    rng = torch.Generator().manual_seed(1)
    masks = torch.rand(n, h * w, generator=rng) < 0.1
    confidence = torch.rand(n, generator=rng)
    levels = torch.randint(0, 3, (n,), generator=rng).tolist()
    paint = PAINTERS[painter]
    memory = PeakMemory('cpu')
    memory.start()
    paint(masks, confidence, levels)
    rise = memory.rise() / 2**20
    return median_seconds(lambda: paint(masks, confidence, levels), repeats), rise


def painting_scale(counts: Sequence[int], sizes: Dict[str, tuple], repeats: int) -> PrettyTable:
    table = PrettyTable(['painting', 'masks N', 'baseline ms', 'wsss ms', 'speed-up',
                         'baseline +MiB', 'wsss +MiB'])
    table.align['painting'] = 'l'
    for size_name, (h, w) in sizes.items():
        for n in counts:
            (s0, m0), (s1, m1) = (run_in_child(painting, p, n, h, w, repeats,
                                               mmap_threshold=2**16) for p in PAINTERS)
            table.add_row([f'{size_name} {w}x{h}', n, f'{s0 * 1e3:.1f}', f'{s1 * 1e3:.1f}',
                           f'{s0 / s1:.1f}x', f'{m0:.0f}', f'{m1:.0f}'])
    return table


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--images', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=5, help='calls per step; the median')
    parser.add_argument('--masks', type=int, nargs='+', default=[40, 100, 200, 400],
                        help='mask counts N of the painting table')
    parser.add_argument('--gpu-rate', type=float, default=300,
                        help='CAM images/s assumed for one GPU (not measured here)')
    parser.add_argument('--tiny', action='store_true', help='96x64 images: checks that it runs')
    args = parser.parse_args(argv)
    size = (64, 96) if args.tiny else (375, 500)
    sizes = dict(tiny=(64, 96)) if args.tiny else dict(VOC=(375, 500), COCO=(480, 640))
    with torch_threads(1), tempfile.TemporaryDirectory() as work:  # as one worker of the pool
        data = make_data(osp.join(work, 'voc'), args.images, size=size)
        s = per_image_steps(data, args.images, args.repeats, osp.join(work, 'seeds'))

    base, new = PIL_DEFAULT_LEVEL, PNG_COMPRESS_LEVEL
    sams_base = s['SAMS seeder'] - s['paint wsss'] - s['areas int32'] \
        + s['paint baseline'] + s['areas int64']
    rows = [('loader: decode, resize, pack (CLIP-ES)', s['loader'], s['loader']),
            ('SAMS: read masks (JSON, RLE decode)', s['read masks'], s['read masks']),
            ('SAMS: mask areas', s['areas int64'], s['areas int32']),
            ('SAMS: painting', s['paint baseline'], s['paint wsss']),
            ('SAMS: seeder (areas, scores, painting)', sams_base, s['SAMS seeder']),
            ('SAMS: seed + confidence PNGs', s[f'SAMS PNGs {base}'], s[f'SAMS PNGs {new}']),
            ('argmax: seeder', s['argmax seeder'], s['argmax seeder']),
            ('argmax: seed + confidence PNGs', s[f'argmax PNGs {base}'],
             s[f'argmax PNGs {new}']),
            ('argmax: seed PNG only (no confidence)', s[f'argmax PNGs {base}'],
             s['argmax seed PNG'])]
    totals = {'SAMS': (s['read masks'] + sams_base + s[f'SAMS PNGs {base}'],
                       s['read masks'] + s['SAMS seeder'] + s[f'SAMS PNGs {new}']),
              'argmax': (s['argmax seeder'] + s[f'argmax PNGs {base}'],
                         s['argmax seeder'] + s[f'argmax PNGs {new}']),
              'argmax, no confidence PNG': (s['argmax seeder'] + s[f'argmax PNGs {base}'],
                                            s['argmax seeder'] + s['argmax seed PNG'])}
    table = PrettyTable(['per image, one thread', 'baseline ms', 'wsss ms', 'speed-up'])
    table.align['per image, one thread'] = 'l'
    for name, b, w in rows + [(f'{k}: total', *v) for k, v in totals.items()]:
        table.add_row([name, f'{b * 1e3:.2f}', f'{w * 1e3:.2f}', f'{b / w:.2f}x'])
    print(f'\n{args.images} images of {size[1]}x{size[0]}, smooth random CAMs of their 1-3 '
          'classes')
    print(table)
    for seeder in ('SAMS', 'argmax'):
        print(f'{seeder} PNG files: {s[f"{seeder} KiB {base}"]:.1f} KiB an image at zlib level '
              f'{base}, {s[f"{seeder} KiB {new}"]:.1f} at {new} '
              f'({s[f"{seeder} KiB {new}"] / s[f"{seeder} KiB {base}"]:.2f}x)')
    print(f'cores of this machine per GPU at {args.gpu_rate:g} images/s, the loader\'s '
          f'{s["loader"] * args.gpu_rate:.1f} included: ' + ', '.join(
              f'{k} {(v[0] + s["loader"]) * args.gpu_rate:.1f} -> '
              f'{(v[1] + s["loader"]) * args.gpu_rate:.1f}' for k, v in totals.items()))
    print(painting_scale(args.masks, sizes, args.repeats))
    print(f'machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
