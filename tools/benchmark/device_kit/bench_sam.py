"""SAM mask generation on one device, for a machine with only Python, torch and a GPU.

Runs wsss's LevelAwareMaskGenerator (FMA-WSSS's settings: 32 points a side, one crop layer,
i.e. 5 crops and ~2,048 point prompts per image) on random-weight SAMs and random images, and
prints per precision:

  images/s      generate_dense (the device half: encoder, decoder, filters, NMS) in steady
                state, no timers inside (the first --warmup images are not counted)
  enc ms/crop   the image encoder per crop (CUDA-synchronised around each call, second pass)
  dec ms/batch  the mask decoder per prompt batch (--points-per-batch prompts: one row per value)
  s/image       the timed pass per image, split into encoder / decoder / rest (filters,
                upscaling, NMS, copies)
  finish s      finish_masks (clean-up, rock-sand-water filter, RLE: the writer's CPU workers'
                share) per image, on one core; without OpenCV (not in the kit: 50 MB) the
                clean-up is left out, marked *
  syncs/crop    times the host waits for the device per crop in generate_dense (CUDA)
  peak GiB      the device's peak allocated memory
  masks         masks per image, and for bfloat16 how many of float32's masks (same click,
                level and crop) it keeps with a mask IoU >= 0.9

    python bench_sam.py --device cuda --images 10                 # ViT-H, fp32 and bf16
    python bench_sam.py --device cpu --model tiny --images 2 --size 96x64 --points-per-side 8

The weights are random (no download), calibrated so that about as many masks pass the filters
as with trained ones (``calibrate_random_sam``: otherwise none would, and the steps after the
filters would go unmeasured); speed depends little on the weights, mask counts do.
"""
import argparse
from typing import Dict, List

import numpy as np
import torch

from wsss.models.sam.build import build_sam
from wsss.models.sam.generator import LevelAwareMaskGenerator, finish_masks
from wsss.utils.benchmark import PeakMemory, Stopwatch, calibrate_random_sam, count_syncs, timed

# a SAM of seconds on a CPU (configs/_base_/models/sam_tiny.py), with thresholds that let its
# random masks through: only to check that the kit runs
TINY = dict(img_size=64, encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2,
            encoder_global_attn_indexes=(1,), window_size=2, prompt_embed_dim=32,
            decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32)
TINY_THRESHOLDS = dict(pred_iou_thresh=0.02, stability_score_thresh=0.5,
                       stability_score_offset=0.005, min_mask_region_area=10)


def build(model: str, device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if model == 'tiny':
        return build_sam(model_cfg=TINY).to(device)
    sam = build_sam(model)
    calibrate_random_sam(sam)
    return sam.to(device)


def images(n: int, size: tuple) -> List[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):  # smooth random colours: regions for SAM to find
        small = rng.integers(0, 256, (size[1] // 16 + 1, size[0] // 16 + 1, 3), dtype=np.uint8)
        big = small.repeat(16, 0).repeat(16, 1)[:size[1], :size[0]]
        out.append(np.ascontiguousarray(big))
    return out


def has_opencv() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace, dtype: str, points_per_batch: int) -> Dict:
    sam = build(args.model, args.device)
    tiny = TINY_THRESHOLDS if args.model == 'tiny' else {}
    # segment-anything imports OpenCV for the clean-up, which the device half does not run
    no_cleanup = {} if has_opencv() else dict(min_mask_region_area=0)
    gen = LevelAwareMaskGenerator(sam, points_per_side=args.points_per_side,
                                  points_per_batch=points_per_batch,
                                  crop_batch=args.crop_batch, dtype=dtype,
                                  **{**tiny, **no_cleanup})
    pics = images(args.warmup + args.images, args.size)
    for image in pics[:args.warmup]:
        gen.generate_dense(image)
    memory = PeakMemory(args.device)
    memory.start()
    steady, dense = timed(lambda: [gen.generate_dense(image) for image in pics[args.warmup:]],
                          args.device)
    enc, dec = [], []  # (seconds, batch) of each call, synchronised around it
    watch = Stopwatch(args.device)
    removers = [watch.time_forward('encoder', sam.image_encoder, enc),
                watch.time_forward('decoder', sam.mask_decoder, dec)]
    timed_pass, _ = timed(lambda: [gen.generate_dense(image) for image in pics[args.warmup:]],
                          args.device)
    for remove in removers:
        remove()
    finish, masks = timed(lambda: [finish_masks(d, **gen.finish_settings()) for d in dense])
    finish /= len(dense)
    n = args.images
    syncs = count_syncs(lambda: gen.generate_dense(pics[-1]), args.device)
    crops = sum(b for _, b in enc) / n  # per image
    return dict(syncs_per_crop=None if syncs is None else syncs / crops,
        dtype=dtype, points_per_batch=points_per_batch, images_per_s=n / steady,
        enc_ms_per_crop=1e3 * sum(t for t, _ in enc) / max(1, sum(b for _, b in enc)),
        dec_ms_per_batch=1e3 * sum(t for t, _ in dec) / max(1, len(dec)),
        s_per_image=timed_pass / n, enc_s=sum(t for t, _ in enc) / n,
        dec_s=sum(t for t, _ in dec) / n,
        finish_s=finish, cleanup=not no_cleanup, masks=masks,
        peak_gib=memory.peak() / 2 ** 30 if args.device.startswith('cuda') else None)


def agreement(ours: List[List[dict]], reference: List[List[dict]], shape: tuple) -> str:
    from pycocotools import mask as mask_utils
    kept = total = 0
    for a, b in zip(ours, reference):
        key = lambda m: (m['level'], tuple(m['point_coords'][0]), tuple(m['crop_box']))  # noqa
        twins = {key(m): m for m in a}
        for m in b:
            total += 1
            if key(m) in twins:
                iou = mask_utils.iou([twins[key(m)]['segmentation']], [m['segmentation']], [0])
                kept += float(iou[0][0]) >= 0.9
    return f'{kept}/{total}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--model', default='vit_h', choices=['vit_h', 'vit_l', 'vit_b', 'tiny'])
    parser.add_argument('--images', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--size', default='500x375', help='WxH of the images (VOC-like)')
    parser.add_argument('--points-per-side', type=int, default=32)
    parser.add_argument('--points-per-batch', type=int, nargs='+', default=[256],
                        help='prompts per decoder call; several: a row each (e.g. 64 256)')
    parser.add_argument('--crop-batch', type=int, default=5)
    parser.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'])
    parser.add_argument('--tf32', action='store_true', help='allow TF32 matmuls (float32 runs)')
    args = parser.parse_args()
    args.size = tuple(int(x) for x in args.size.split('x'))
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32
    gpu = torch.cuda.get_device_name() if args.device.startswith('cuda') else 'CPU'
    print(f'SAM {args.model} on {args.device} ({gpu}), '
          f'torch {torch.__version__}, {args.images} images {args.size[0]}x{args.size[1]}, '
          f'{args.points_per_side} points a side, {args.crop_batch} crops per encoder call, '
          f'TF32 {args.tf32}')
    rows = [run(args, dtype, batch) for dtype in args.dtypes for batch in args.points_per_batch]
    print(f'{"dtype":9} {"prompts":>7} {"images/s":>8} {"enc ms/crop":>11} {"dec ms/batch":>12} '
          f'{"s/image = enc + dec + rest":>27} {"finish s":>8} {"syncs/crop":>10} {"peak GiB":>8} '
          f'{"masks":>6} {"kept of fp32":>12}')
    for row in rows:
        rest = row['s_per_image'] - row['enc_s'] - row['dec_s']
        finish = f'{row["finish_s"]:.3f}' + ('' if row['cleanup'] else '*')
        peak = 'n/a' if row['peak_gib'] is None else f'{row["peak_gib"]:.1f}'
        syncs = 'n/a' if row['syncs_per_crop'] is None else f'{row["syncs_per_crop"]:.1f}'
        kept = agreement(row['masks'], rows[0]['masks'], args.size) if row is not rows[0] else '-'
        print(f'{row["dtype"]:9} {row["points_per_batch"]:7d} {row["images_per_s"]:8.2f} '
              f'{row["enc_ms_per_crop"]:11.1f} '
              f'{row["dec_ms_per_batch"]:12.1f} {row["s_per_image"]:7.3f} = {row["enc_s"]:.3f} + '
              f'{row["dec_s"]:.3f} + {rest:.3f} {finish:>8} {syncs:>10} {peak:>8} '
              f'{sum(map(len, row["masks"])) / len(row["masks"]):6.1f} {kept:>12}')


if __name__ == '__main__':
    main()
