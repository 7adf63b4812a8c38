"""Throughput and memory of TUSS's steps (docs/tuss.md §3, §5), each against a baseline in
the same run.

- **mask embeddings** (DBA-CLIP ViT-B/16, random weights, a 375×500 image → 448×608, 40 windows
  + the global pass, ``--masks`` random SAM-like masks): windows one at a time (baseline) vs
  batched ``--window-batch`` at a time (wsss); masks embedded per second; the embeddings of the
  two must agree to 1e-4 (else exit 1).
- **probe**: training iterations per second of the cosine probe (batch 512, D = 512, K = 21 and
  81, SGD momentum 0.9, area-weighted soft CE).
- **kNN of label propagation** (N random unit embeddings, k + 1 = 51): exact torch search
  (baseline) vs faiss ``IndexFlatIP`` when installed; the neighbours must agree.
- **mask store**: bytes per image of a zero-shot shard (``--masks`` masks, D = 512, 45 logits,
  21 scores), times 1,000.

Peak memory: CUDA ``max_memory_allocated`` per step; on CPU the peak resident set (VmHWM) of the
process after each step (it only grows: read it as "at most").

    python tools/benchmark/tuss.py --device cpu --warmup 0   # minutes on a 2-core machine
    python tools/benchmark/tuss.py --device cuda --images 5 --knn-n 200000
"""
import argparse
import io
import time
from typing import Callable, Dict, Tuple

import numpy as np
import torch

from wsss.models.clip import (CLIPDenseEncoder, DBAFeatureExtractor, build_clip,
                              pool_mask_embeddings, tuss_input_size)
from wsss.models.tuss import TUSSLinearProbe, knn_search
from wsss.models.tuss import label_propagation


def peak_mib(device: str) -> float:
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2 ** 20
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM'):
                return int(line.split()[1]) / 1024
    return float('nan')


def timed(fn: Callable, device: str, repeat: int) -> Tuple[float, object]:
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat, out


def random_masks(m: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """m rectangles of random size and place (SAM-like coverage, each non-empty)."""
    masks = torch.zeros(m, h, w, dtype=torch.bool)
    for i in range(m):
        y0, x0 = (int(torch.randint(0, s - 8, (1,), generator=gen)) for s in (h, w))
        y1 = y0 + 8 + int(torch.randint(0, h - y0 - 8 + 1, (1,), generator=gen))
        x1 = x0 + 8 + int(torch.randint(0, w - x0 - 8 + 1, (1,), generator=gen))
        masks[i, y0:y1, x0:x1] = True
    return masks


def bench_embeddings(args) -> Dict[str, float]:
    torch.manual_seed(0)
    clip = build_clip('ViT-B-16', pretrained=None, device=args.device)
    encoder = CLIPDenseEncoder(clip.visual, num_attn_layers=0)
    gen = torch.Generator().manual_seed(0)
    H0, W0 = 375, 500
    H, W = tuss_input_size(H0, W0)
    image = torch.randn(1, 3, H, W, generator=gen).to(args.device)
    masks = random_masks(args.masks, H0, W0, gen).to(args.device)
    results, outputs = {}, {}
    for name, batch in (('one window at a time (baseline)', 1),
                        (f'{args.window_batch} windows a batch (wsss)', args.window_batch)):
        extractor = DBAFeatureExtractor(encoder, window_batch=batch)
        with torch.no_grad():
            def run():
                return pool_mask_embeddings(extractor(image, masks), masks)
            for _ in range(args.warmup):
                run()
            seconds, outputs[name] = timed(run, args.device, args.images)
        results[name] = seconds
        print(f'  {name:34s} {seconds:7.2f} s/image  {args.masks / seconds:7.1f} masks/s  '
              f'peak {peak_mib(args.device):7.0f} MiB')
    base, ours = results.values()
    first, second = outputs.values()
    diff = (first - second).abs().max().item()
    print(f'  speed-up {base / ours:.2f}x; embeddings differ by at most {diff:.2e}')
    if diff > 1e-4:
        raise SystemExit('batched and one-by-one windows disagree')
    return results


def bench_probe(args) -> None:
    gen = torch.Generator().manual_seed(0)
    for K in (21, 81):
        torch.manual_seed(0)
        probe = TUSSLinearProbe(num_classes=K, embed_dim=512).to(args.device)
        opt = torch.optim.SGD(probe.parameters(), lr=0.02, momentum=0.9)
        x = torch.randn(512, 512, generator=gen).to(args.device)
        soft = torch.softmax(torch.randn(512, K, generator=gen), 1).to(args.device)
        batch = dict(soft_label=soft, area=torch.rand(512, generator=gen).to(args.device))

        def step():
            opt.zero_grad()
            probe(x, batch, mode='loss')['loss_probe'].backward()
            opt.step()
        step()
        seconds, _ = timed(step, args.device, args.probe_iters)
        print(f'  K={K:3d}: {1 / seconds:8.1f} iterations/s (60k iterations: '
              f'{60000 * seconds / 60:.1f} min)  peak {peak_mib(args.device):7.0f} MiB')


def bench_knn(args) -> None:
    rng = np.random.default_rng(0)
    x = label_propagation.l2_normalize(rng.normal(size=(args.knn_n, 512)))
    seconds_t, (_, idx_t) = timed(lambda: knn_search(x, x, 51, use_faiss=False), 'cpu', 1)
    print(f'  torch exact (baseline) {seconds_t:7.2f} s for N={args.knn_n}')
    if label_propagation.faiss is None:
        print('  faiss not installed: pip install faiss-cpu')
        return
    seconds_f, (_, idx_f) = timed(lambda: knn_search(x, x, 51, use_faiss=True), 'cpu', 1)
    same = (idx_t == idx_f).mean()
    print(f'  faiss IndexFlatIP      {seconds_f:7.2f} s; speed-up {seconds_t / seconds_f:.2f}x; '
          f'same neighbours {100 * same:.3f}%')


def bench_store(args) -> None:
    rng = np.random.default_rng(0)
    m = args.masks
    shard = dict(embeddings=rng.normal(size=(m, 512)).astype(np.float32),
                 logits=rng.normal(size=(m, 45)).astype(np.float32),
                 scores=rng.random((m, 21)).astype(np.float32), cls_lb=np.ones(21, bool),
                 areas=rng.integers(100, 10000, m), levels=rng.integers(0, 3, m).astype(np.int8))
    buffer = io.BytesIO()
    np.savez(buffer, **shard)
    size = buffer.getbuffer().nbytes
    print(f'  {m} masks: {size / 1024:.1f} KiB per image, {size * 1000 / 2 ** 20:.1f} MiB per '
          '1,000 images (zero-shot shard; each later step stores scores only, '
          f'{(m * 21 * 4 + 21) * 1000 / 2 ** 20:.1f} MiB)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--images', type=int, default=1, help='timed images per variant')
    parser.add_argument('--warmup', type=int, default=1, help='untimed images per variant')
    parser.add_argument('--masks', type=int, default=40, help='SAM masks per image')
    parser.add_argument('--window-batch', type=int, default=8)
    parser.add_argument('--probe-iters', type=int, default=50)
    parser.add_argument('--knn-n', type=int, default=20000)
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    print(f'device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}')
    print('mask embeddings (DBA-CLIP ViT-B/16, 375x500 -> 448x608, 40 windows + global):')
    bench_embeddings(args)
    print('probe training:')
    bench_probe(args)
    print('label propagation kNN:')
    bench_knn(args)
    print('mask store:')
    bench_store(args)


if __name__ == '__main__':
    main()
