"""CLIP CAM throughput on one device, for a machine with only Python, torch and a GPU.

wsss's CLIP-ES path on random-weight CLIP ViT-B/16 and random same-size images with 1-3 of 20
labels: the dense encoder (``CLIPDenseEncoder``, 8 attention layers kept for CAA) and the
softmax GradCAM of every label (``softmax_gradcam``, one backward per class slot), then, as
post-processing, the attention affinity (``attention_affinity``, Sinkhorn) and, where OpenCV is
installed (not in the kit: 50 MB), CAA's box refinement (``caa_refine``). Per precision and
batch size:

  images/s      steady state (after --warmup batches), model only / with post-processing
  syncs/batch   host synchronisations per batch (CUDA's sync debug mode), model only
  peak GiB      the device's peak allocated memory
  GradCAM err   largest |CAM - float32 CAM| over the batch (CAMs in [0, 1])

Precisions: fp32; tf32 (float32 with TF32 matmuls); bf16 (the encoder cast to bfloat16 once,
GradCAMs accumulated in float32).

    python bench_clip.py --device cuda                                     # batch 1, 16, 32
    python bench_clip.py --device cpu --tiny --batches 1 2 --images 4 --size 64x96
"""
import argparse
from typing import Dict, List

import open_clip
import torch

from wsss.models.clip.encoder import CLIPDenseEncoder
from wsss.models.clip_es.cam import attention_affinity, softmax_gradcam
from wsss.utils.benchmark import PeakMemory, count_syncs, timed

NUM_CLASSES, NUM_BACKGROUND = 20, 27  # VOC, and CLIP-ES's background words
LOGIT_SCALE = 100.0  # CLIP's exp(logit_scale); a number, not a tensor a GPU would wait to copy
TINY = dict(embed_dim=32, vision_cfg=dict(layers=2, width=32, head_width=16, patch_size=16,
                                          image_size=64),
            text_cfg=dict(context_length=8, vocab_size=100, width=16, heads=2, layers=1))


def build(args: argparse.Namespace, dtype: torch.dtype) -> CLIPDenseEncoder:
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY) if args.tiny else \
        open_clip.create_model('ViT-B-16', pretrained=None, force_quick_gelu=True)
    layers = min(8, len(model.visual.transformer.resblocks))
    encoder = CLIPDenseEncoder(model.visual, num_attn_layers=layers)
    return encoder.to(args.device, dtype).eval().requires_grad_(False)


def make_batches(args: argparse.Namespace, batch: int, text_dim: int):
    gen = torch.Generator().manual_seed(1)
    h, w = args.size
    for _ in range(args.warmup + args.images // batch):
        images = torch.randn(batch, 3, h, w, generator=gen)
        labels = torch.zeros(batch, NUM_CLASSES)
        for row in labels:
            row[torch.randperm(NUM_CLASSES, generator=gen)[:int(torch.randint(1, 4, (1,),
                                                                               generator=gen))]] = 1
        yield images, labels


def cams_of(encoder, images, labels, text, post: bool, dtype) -> List[torch.Tensor]:
    with torch.enable_grad():
        out = encoder(images.to(dtype))
        cams = softmax_gradcam(out.ln1, out.image_feature.float(), text, labels, LOGIT_SCALE,
                               out.grid)
    if post:
        affinity = attention_affinity([a.float() for a in out.attn])
        if caa_refine is not None:
            cams = [caa_refine(c, a, 0.4) for c, a in zip(cams, affinity)]
    return cams


def run(args: argparse.Namespace, precision: str, batch: int, reference: Dict) -> Dict:
    cuda = args.device.startswith('cuda')
    dtype = torch.bfloat16 if precision == 'bf16' else torch.float32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == 'tf32'
    encoder = build(args, dtype)
    text = torch.nn.functional.normalize(torch.randn(
        NUM_CLASSES + NUM_BACKGROUND, encoder.visual.output_dim,
        generator=torch.Generator().manual_seed(2)), dim=-1).to(args.device)
    row = dict(precision=precision, batch=batch)
    for post in (False, True):
        data = [(i.to(args.device), lab.to(args.device))
                for i, lab in make_batches(args, batch, text.shape[1])]
        for images, labels in data[:args.warmup]:
            cams_of(encoder, images, labels, text, post, dtype)
        memory = PeakMemory(args.device)
        memory.start()
        seconds, outputs = timed(lambda: [cams_of(encoder, i, lab, text, post, dtype)
                                          for i, lab in data[args.warmup:]], args.device)
        row['post' if post else 'model'] = len(outputs) * batch / seconds
        if not post:
            row['peak_gib'] = memory.peak() / 2 ** 30 if cuda else None
            first = torch.cat([c.flatten() for c in outputs[0]])
            key = (batch, 'cams')
            reference.setdefault(key, first)
            row['err'] = float((first - reference[key]).abs().max())
    row['syncs'] = count_syncs(lambda: cams_of(encoder, *data[-1], text, False, dtype),
                               args.device)
    return row


try:  # CAA's boxes need OpenCV, which the kit leaves out
    import cv2  # noqa: F401

    from wsss.models.clip_es.cam import caa_refine
except ImportError:
    caa_refine = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--tiny', action='store_true', help='a tiny random CLIP (CPU check)')
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 16, 32])
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'tf32', 'bf16'])
    parser.add_argument('--images', type=int, default=256, help='timed images per setting')
    parser.add_argument('--warmup', type=int, default=2, help='untimed batches first')
    parser.add_argument('--size', default='320x480', help='HxW, multiples of 16')
    args = parser.parse_args()
    args.size = tuple(int(x) for x in args.size.split('x'))
    gpu = torch.cuda.get_device_name() if args.device.startswith('cuda') else 'CPU'
    print(f'CLIP {"tiny" if args.tiny else "ViT-B/16"} (random weights) on {args.device} '
          f'({gpu}), torch {torch.__version__}, images {args.size[0]}x{args.size[1]}, 1-3 of '
          f'{NUM_CLASSES} labels; post-processing: affinity'
          + (' + CAA boxes' if caa_refine else ' only (no OpenCV)'))
    print('| precision | batch | images/s model | images/s + post | syncs/batch | peak GiB | '
          'GradCAM err vs fp32 |\n|---|---|---|---|---|---|---|')
    reference: Dict = {}
    for precision in args.precisions:
        for batch in args.batches:
            r = run(args, precision, batch, reference)
            fmt = lambda x, f: 'n/a' if x is None else format(x, f)  # noqa
            print(f"| {precision} | {batch} | {r['model']:.2f} | {r['post']:.2f} | "
                  f"{fmt(r['syncs'], 'd')} | {fmt(r['peak_gib'], '.2f')} | {r['err']:.1e} |",
                  flush=True)


if __name__ == '__main__':
    main()
