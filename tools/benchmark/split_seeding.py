"""One job or two: CAM time per image against the CPU seeding time of each seeder, for choosing
between tools/generate_seeds.py alone (the seeder in the GPU job's worker pool) and
tools/generate_seeds.py --cams-only followed by tools/seed_from_cams.py (a separate CPU job).

On generated VOC-sized images (500x375, 1-3 labels, ~40 synthetic SAM masks each, as in
seed_throughput.py), with the CLIP-ES CRF config's model (a random ViT-B/16: no download):

  CAM         the model per image (forward, GradCAM, CAA, resize): the baseline of the ratios;
              on this machine a CPU's, on a GPU ~100x less (README: Performance)
  CAM file    the split path's extra work: writing the float32 CAM file (GPU job's pool) and
              reading it (CPU job)
  argmax / CRF released / CRF clean / SAMS   the seeder and the seed + confidence PNG writes,
              from the CAM files, one process and one thread, as each of the CPU job's workers
              (tools/seed_from_cams.py --nproc 0), the fastest of --repeats runs

then the CPU job's wall time for N/2 and N images (scaling with N) and for --nproc 1, 2, ...
up to the cores (scaling with processes), with the CRF seeder. All in one process and one run,
so the ratios share the machine's load.

    python tools/benchmark/split_seeding.py --images 8    # ~4 min on a slow 2-core machine

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

import torch
from mmengine.config import Config
from prettytable import PrettyTable

from wsss.utils.benchmark import torch_threads

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from seed_throughput import ROOT, TINY_CLIP, make_data  # noqa: E402  (same images and masks)

CRF_CONFIG = 'configs/clip_es/clip-es_vit-b16_crf_voc12-train.py'
SEEDERS = {'argmax': dict(type='ArgmaxSeeder'),
           'CRF released': dict(type='CRFSeeder', released=True),
           'CRF clean': dict(type='CRFSeeder', released=False),
           'SAMS': dict(type='SAMSSeeder', bg_power=0.7)}


def cam_files(data: str, cam_dir: str, images: int, tiny: bool = False) -> Dict[str, float]:
    """Seconds per image of the model and of writing its CAM file (--cams-only's writer)."""
    from wsss.apis import load_config
    from wsss.datasets import VOC12Dataset
    from wsss.evaluation import SeedWriter
    from wsss.registry import MODELS
    cfg = load_config(osp.join(ROOT, CRF_CONFIG))
    cfg.model.clip.pretrained = None
    if tiny:  # the instant-test configs' tiny random CLIP (3 blocks)
        cfg.model.update(clip=Config.fromfile(TINY_CLIP).tiny_clip, num_attn_layers=2)
    cfg.model.seeder = dict(type='ArgmaxSeeder')  # float32 CAM files (the released CRF: float16)
    model = MODELS.build(dict(cfg.model, defer_seeding=True)).eval()
    dataset = VOC12Dataset(data_root=data, split='train',
                           pipeline=cfg.test_dataloader.dataset.pipeline)
    writer = SeedWriter(None, cam_dir, workers=0)
    seconds = 0.0
    for i in range(images):
        item = dataset[i]
        start = time.perf_counter()
        with torch.no_grad():
            out, = model.predict([item['inputs']], [item['data_samples']])
        seconds += time.perf_counter() - start
        writer.process(None, [out.to_dict()])  # workers=0: the write, in this process
    return dict(cam=seconds / images, write=writer.seconds['write'] / images)


def seed_run(data: str, cam_dir: str, seeder_cfg: dict, images: int, nproc: int,
             seed_dir: str) -> dict:
    """One tools/seed_from_cams.py job over the first ``images`` images: wall seconds and the
    summed per-step seconds."""
    from wsss.datasets import VOC12Dataset
    from wsss.evaluation.cam_seeding import seed_cam_dir
    from wsss.models.seeders.base import build_seeder
    dataset = VOC12Dataset(data_root=data, split='train', indices=images)
    seeder = build_seeder(seeder_cfg, released=True)
    start = time.perf_counter()
    with torch_threads(1):  # as in the job's workers (nproc 0: the work runs here)
        metrics = seed_cam_dir(dataset, cam_dir, seed_dir, seeder, nproc)
    assert metrics['written'] == images, metrics
    return dict(wall=time.perf_counter() - start, **metrics['seconds'])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--images', type=int, default=8, help='N (even)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='seeder runs over the N images; the fastest counts')
    parser.add_argument('--max-nproc', type=int, default=os.cpu_count())
    parser.add_argument('--gpu-rate', type=float, default=300,
                        help='CAM images/s assumed for one GPU (not measured here): the table '
                             'says how many cores at this CPU\'s speed keep up with it')
    parser.add_argument('--tiny', action='store_true',
                        help='tiny random CLIP, 96x64 images: checks that it runs')
    args = parser.parse_args(argv)
    from wsss.utils import register_all_modules
    register_all_modules()
    n = args.images
    with torch_threads(os.cpu_count()), tempfile.TemporaryDirectory() as work:
        size = (64, 96) if args.tiny else (375, 500)
        data = make_data(osp.join(work, 'voc'), n, size=size)
        SEEDERS['SAMS']['mask_dir'] = osp.join(data, 'sam_masks')
        cam_dir = osp.join(work, 'cams')
        cam = cam_files(data, cam_dir, n, args.tiny)
        cam_mib = sum(os.path.getsize(osp.join(cam_dir, f))
                      for f in os.listdir(cam_dir)) / n / 2**20
        per_seeder = {}
        for r in range(args.repeats):  # seeders interleaved, so that load drift hits all alike
            for name, cfg in SEEDERS.items():
                s = seed_run(data, cam_dir, cfg, n, 0, osp.join(work, f'seeds{r}', name))
                best = per_seeder.setdefault(name, s)
                for k, v in s.items():
                    best[k] = min(best[k], v)
        rows = [('CAM (model)', cam['cam'], 0.0),
                ('CAM file: write (split, GPU job)', 0.0, cam['write']),
                ('CAM file: read (split, CPU job)', 0.0, per_seeder['argmax']['read'] / n)]
        for name, s in per_seeder.items():
            rows.append((f'{name}: seeder, seed PNGs', s['seeder'] / n, s['write'] / n))
        cores = f'cores per GPU at {args.gpu_rate:g} images/s'
        table = PrettyTable(['per image, one process', 's compute', 's writes', 'x CAM', cores])
        table.align['per image, one process'] = 'l'
        for name, compute, writes in rows:
            total = compute + writes
            table.add_row([name, f'{compute:.4f}', f'{writes:.4f}', f'{total / cam["cam"]:.2g}',
                           '-' if name.startswith('CAM (') else f'{total * args.gpu_rate:.1f}'])
        print(f'\n{n} images of {size[1]}x{size[0]}; CAM file {cam_mib:.2f} MiB an image (float32)')
        print(table)

        scaling = PrettyTable(['CRF released job', 'images', 'nproc', 'wall s', 's / image',
                               'x (N/2, nproc 1)'])
        runs: List[tuple] = [(n // 2, 1)] + [(n, p) for p in range(1, args.max_nproc + 1)]
        walls = {}
        for images, nproc in runs:
            out = osp.join(work, f'scale_{images}_{nproc}')
            walls[images, nproc] = seed_run(data, cam_dir, SEEDERS['CRF released'], images,
                                            nproc, out)['wall']
            scaling.add_row(['', images, nproc, f'{walls[images, nproc]:.2f}',
                             f'{walls[images, nproc] / images:.3f}',
                             f'{walls[images, nproc] / walls[runs[0]]:.2f}'])
        print(scaling)
        slope = (walls[n, 1] - walls[n // 2, 1]) / (n - n // 2)
        print(f'one process: {slope:.3f} s per image + {walls[n, 1] - slope * n:.2f} s fixed '
              '(start, listing, pool); speed-up of nproc p over 1 at N: '
              + ', '.join(f'{p}: {walls[n, 1] / walls[n, p]:.2f}x'
                          for p in range(2, args.max_nproc + 1)))
    print(f'machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
