"""Peak memory of one image in the stage-one encoders, at their size bound (``max_long_side``).

Two models, the real architectures at random initialisation (no weights needed; memory depends
on the shapes, not the values):

  clip   CLIP ViT-B/16 through CLIP-ES's model and pipeline (configs/clip_es/
         clip-es_vit-b16_voc12-train.py: ResizeToMultiple with max_long_side=640, GradCAM of two
         classes, CAA, argmax seeds at the image's size), via wsss.apis.seed_image
  sam    SAM ViT-H through the SAM-mask model (configs/sam/sam_vit-h_fma_voc12-train.py,
         max_long_side=1024) with the IoU and stability thresholds at 0, so that every candidate
         mask is upscaled (random weights would let almost none through: the worst case instead)

Images: a VOC-sized picture (375x500), the baseline of the ratios, and a 24 MP photo
(4000x6000), which the bound brings to 432x640 (CLIP) and 683x1024 (SAM). Each (model, image) runs
in a process of its own (``wsss.utils.benchmark.run_in_child``); the figure is the peak RSS
(VmHWM) above what the process held once the model was built, with --device cuda also CUDA's
max_memory_allocated above the model's. ``--tiny``: the tiny random models of the instant-test
configs instead, to check that the script runs.

    python tools/benchmark/image_memory.py                       # CPU, a few minutes (SAM ViT-H)
    python tools/benchmark/image_memory.py --device cuda
    python tools/benchmark/image_memory.py --models clip --sam-points 8

--sam-points (default 8 on a CPU) sets the points a side and drops the crop layer: SAM's memory
peak is one batch of ``points_per_batch`` (64) prompts upscaled to the crop, so more points and
crops add batches and time, not height to the peak (the masks kept between batches are bool).
"""
import argparse
import os
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import torch
from PIL import Image

from wsss.utils.benchmark import PeakMemory, run_in_child

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = dict(clip='configs/clip_es/clip-es_vit-b16_voc12-train.py',
               sam='configs/sam/sam_vit-h_fma_voc12-train.py')
TINY_CONFIGS = dict(clip='configs/clip_es/clip-es_vit-tiny_minivoc.py',
                    sam='configs/sam/sam_tiny_minivoc.py')
SIZES = dict(voc=(375, 500), photo=(4000, 6000))


def child(model_name: str, size: str, device: str, sam_points: int,
          tiny: bool = False) -> Dict[str, float]:
    """Build the model, seed one image, return its memory in MiB."""
    from wsss.apis import init_stage_one, load_config, seed_image
    from wsss.registry import MODELS
    from wsss.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    h, w = SIZES[size]
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    config = os.path.join(ROOT, (TINY_CONFIGS if tiny else CONFIGS)[model_name])
    if model_name == 'clip':
        cfg = load_config(config)
        cfg.model.clip.pretrained = None
        cfg.test_dataloader.dataset.pipeline = cfg.stage_one_pipeline
        model = init_stage_one(cfg, device=device)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'photo.jpg')
            Image.fromarray(rgb).save(path, quality=90)
            run = lambda: seed_image(model, path, ['cat', 'person'])  # noqa: E731
            return measure(run, device)
    cfg = load_config(config)
    cfg.model.sam.checkpoint = None
    cfg.model.generator.update(pred_iou_thresh=0.0, stability_score_thresh=0.0)
    if sam_points:
        cfg.model.generator.update(points_per_side=sam_points, crop_n_layers=0)
    model = MODELS.build(cfg.model).to(device).eval()
    image = torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1)
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(img_path='photo.jpg'))

    def run():
        with torch.no_grad():
            out, = model.predict([image], [sample])
        assert 'load_error' not in out.metainfo, out.metainfo['load_error']
    return measure(run, device)


def measure(run, device: str) -> Dict[str, float]:
    host = PeakMemory('cpu')
    host.start()  # the peak of building the model is gone
    gpu = PeakMemory(device) if device.startswith('cuda') else None
    if gpu:
        gpu.start()
    run()
    out = dict(model_rss_mib=host.base / 2 ** 20, image_rss_mib=host.rise() / 2 ** 20)
    if gpu:
        out['image_cuda_mib'] = gpu.rise() / 2 ** 20
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--models', nargs='+', choices=['clip', 'sam'], default=['clip', 'sam'])
    parser.add_argument('--sam-points', type=int,
                        help='SAM points a side, no crop layer (default: 8 on a CPU; 0 = the '
                             "config's 32 and one crop layer)")
    parser.add_argument('--tiny', action='store_true',
                        help='the tiny random CLIP and SAM of the instant-test configs')
    args = parser.parse_args(argv)
    sam_points = args.sam_points if args.sam_points is not None else (
        8 if args.device == 'cpu' else 0)
    # no preload_for_children: each child imports its libraries itself, so that the model's
    # RSS holds them as in a fresh process
    rows = []
    for model_name in args.models:
        results = {size: run_in_child(child, model_name, size, args.device, sam_points,
                                      args.tiny) for size in SIZES}
        base = results['voc']
        for size, r in results.items():
            rows.append((model_name, f'{SIZES[size][1]}x{SIZES[size][0]}', r['model_rss_mib'],
                         r['image_rss_mib'], r['image_rss_mib'] / base['image_rss_mib'],
                         r.get('image_cuda_mib')))
    print(f'\ndevice {args.device}; memory of one image above the built model (MiB)')
    print('model | image (WxH) | model RSS | image RSS | vs VOC-sized | image CUDA')
    print('------+-------------+-----------+-----------+--------------+-----------')
    for name, size, model_rss, image_rss, ratio, cuda in rows:
        cuda_text = f'{cuda:,.0f}' if cuda is not None else '-'
        print(f'{name:<5} | {size:<11} | {model_rss:9,.0f} | {image_rss:9,.0f} | '
              f'{ratio:11.2f}x | {cuda_text}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
