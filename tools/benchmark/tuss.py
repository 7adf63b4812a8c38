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

Peak memory (``wsss.utils.benchmark.PeakMemory``): CUDA ``max_memory_allocated`` per step; on
CPU the peak resident set (VmHWM) of the process after each step (it only grows: read it as
"at most"). ``--tiny``: a tiny random CLIP (configs/_base_/models/clip_tiny.py) for the mask
embeddings, to check that the script runs.

``--scale`` instead times label propagation's dataset-level steps at growing N (synthetic
clustered unit embeddings, D = 512, k = 50; each N and kNN method in a fresh process, so its
peak resident set is its own): the kNN (the exact tiled search on ``--device``, and the
approximate faiss IVF index with its recall on 2,000 nodes against the exact neighbours), the
graph (W, degrees, A) and CG (21 classes). It fits the kNN time ∝ N^b, takes graph and CG as
linear in N from the largest N (N·k edges; CG at most 200 mat-vecs a class) and memory as the
libraries' baseline + c·N, and prints them extrapolated to VOC train_aug (0.42 M masks) and
COCO train (3.3 M, 81 classes); with no GPU,
the COCO figure for the exact kNN on one 8-GPU node comes from the FLOP count (2·N²·D) at
``--gpu-tflops`` per GPU, marked as a model. The kNN runs in one process while the others wait
(lp_graph), so the other ranks' memory is the mapped scores only.

    python tools/benchmark/tuss.py --device cpu --warmup 0   # minutes on a 2-core machine
    python tools/benchmark/tuss.py --device cuda --images 5 --knn-n 200000
    python tools/benchmark/tuss.py --scale --scale-n 10000 20000 40000 80000 \
        --scale-n-approx 160000
"""
import argparse
import io
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

from wsss.models.clip import (
    CLIPDenseEncoder,
    DBAFeatureExtractor,
    build_clip,
    pool_mask_embeddings,
    tuss_input_size,
)
from wsss.models.tuss import KNNIndex, TUSSLinearProbe, knn_search, label_propagation
from wsss.utils.benchmark import PeakMemory, run_in_child, timed

TINY_CLIP = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                     'configs/_base_/models/clip_tiny.py')


def peak_mib(device: str) -> float:
    """The peak since the last :func:`reset_peak` (CUDA) or since the process started (CPU)."""
    return PeakMemory(device).peak() / 2 ** 20


def reset_peak(device: str) -> None:
    """Start a step's CUDA peak; on the CPU the process's peak stays (read it as "at most")."""
    if device.startswith('cuda'):
        PeakMemory(device).start()


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
    settings = Config.fromfile(TINY_CLIP).tiny_clip.to_dict() if args.tiny else dict(
        name='ViT-B-16', pretrained=None)
    clip = build_clip(**settings, device=args.device)
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
            reset_peak(args.device)
            seconds, outputs[name] = timed(run, args.device, args.images, args.warmup)
        results[name] = seconds
        print(f'  {name:34s} {seconds:7.2f} s/image  {args.masks / seconds:7.1f} masks/s  '
              f'peak {peak_mib(args.device):7.0f} MiB')
    base, ours = results.values()
    first, second = outputs.values()
    diff = (first - second).abs().max().item()
    relative = diff / max(first.abs().max().item(), 1e-12)
    print(f'  speed-up {base / ours:.2f}x; embeddings differ by at most {diff:.2e} '
          f'({relative:.1e} of the largest)')
    # a GPU may run the two batch sizes on other kernels (cuDNN's TF32 convolutions by
    # default), which round differently: the check is relative and allows TF32's rounding
    if relative > 1e-3:
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
        reset_peak(args.device)
        seconds, _ = timed(step, args.device, args.probe_iters, warmup=1)
        print(f'  K={K:3d}: {1 / seconds:8.1f} iterations/s (60k iterations: '
              f'{60000 * seconds / 60:.1f} min)  peak {peak_mib(args.device):7.0f} MiB')


def bench_knn(args) -> None:
    rng = np.random.default_rng(0)
    x = label_propagation.l2_normalize(rng.normal(size=(args.knn_n, 512)))
    seconds_t, (_, idx_t) = timed(lambda: knn_search(x, x, 51, use_faiss=False))
    print(f'  torch exact (baseline) {seconds_t:7.2f} s for N={args.knn_n}')
    if label_propagation.faiss is None:
        print('  faiss not installed: pip install faiss-cpu')
        return
    seconds_f, (_, idx_f) = timed(lambda: knn_search(x, x, 51, use_faiss=True))
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


VOC_MASKS, COCO_MASKS = 420_000, 3_300_000


def clustered_embeddings(n: int, dim: int = 512, per_cluster: int = 50,
                         seed: int = 0) -> np.ndarray:
    """Unit vectors around n / per_cluster random centres (cosine to the centre about 0.7):
    masks of the same kind of object, as CLIP mask embeddings cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // per_cluster), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, dim)).astype(np.float32)
    return label_propagation.l2_normalize(x)


def scale_one(n: int, method: str, device: str, dtype: str) -> Dict[str, float]:
    """One N and kNN method, in a child process of its own: seconds of kNN, graph and CG,
    recall, peak MiB."""
    from wsss.models.tuss.label_propagation import LabelPropagation, neighbour_graph
    baseline = peak_mib('cpu')  # the interpreter and its libraries
    x = clustered_embeddings(n)
    knn = dict(method=method, device=device, dtype=dtype)
    start = time.perf_counter()
    graph = neighbour_graph(x, 50, knn)
    out = dict(knn=time.perf_counter() - start)
    if method in ('ivf', 'hnsw'):  # recall on 2,000 random nodes against the exact search
        rows = np.random.default_rng(2).permutation(n)[:2000]
        _, exact = KNNIndex(x, 'exact', device=device).search(x[rows], 51)
        found = [len(np.intersect1d(a, b[1:])) for a, b in zip(graph['neighbours'][rows], exact)]
        out['recall'] = float(np.sum(found) / (len(rows) * 50))
    out['peak_knn'] = peak_mib('cpu')
    start = time.perf_counter()
    lp = LabelPropagation(None, k=50, graph=graph)
    out['graph'] = time.perf_counter() - start
    rng = np.random.default_rng(1)
    Y = rng.random((n, 21)) * (rng.random((n, 21)) < 0.15)
    start = time.perf_counter()
    lp.propagate(Y)
    out['cg'] = time.perf_counter() - start
    out['peak'] = peak_mib('cpu')
    out['baseline'] = baseline
    return out


def power_fit(ns: List[int], values: List[float]) -> Tuple[float, float]:
    """(b, a) of values ≈ a·N^b by least squares in log-log."""
    b, log_a = np.polyfit(np.log(ns), np.log(values), 1)
    return float(b), float(np.exp(log_a))


def bench_scale(args) -> None:
    methods = args.scale_methods or ['exact'] + (
        ['ivf'] if label_propagation.faiss is not None else [])
    rows: Dict[str, List[Dict[str, float]]] = {m: [] for m in methods}
    print(f'  {"method":6s} {"N":>8s} {"kNN s":>8s} {"graph s":>8s} {"CG s":>8s} '
          f'{"recall":>7s} {"peak MiB":>9s}   (measured)')
    for method in methods:
        for n in args.scale_n + (args.scale_n_approx if method != 'exact' else []):
            result = run_in_child(scale_one, n, method, args.device, args.dtype)
            rows[method].append(dict(result, n=n))
            print(f'  {method:6s} {n:8d} {result["knn"]:8.1f} {result["graph"]:8.1f} '
                  f'{result["cg"]:8.1f} {result.get("recall", 1.):7.3f} {result["peak"]:9.0f}')
    print('  extrapolated (kNN ∝ N^b fitted, graph and CG ∝ N, memory = baseline + c·N; one '
          'process computes, the others map the result):')
    for method, measured in rows.items():
        ns = [r['n'] for r in measured]
        # kNN: the fitted power; graph and CG: linear from the largest N (N·k edges; CG at most
        # 200 sparse mat-vecs of N·2k non-zeros a class), their fitted powers printed only
        fits = {step: power_fit(ns, [max(r[step], 1e-3) for r in measured])
                for step in ('knn', 'graph', 'cg')}
        largest = measured[-1]
        # memory: the libraries' baseline + c·N (least squares through the origin)
        grown = np.array([r['peak'] - r['baseline'] for r in measured])
        mem_slope = float(np.dot(ns, grown) / np.dot(ns, ns))
        mem_base = float(np.mean([r['baseline'] for r in measured]))
        exps = ', '.join(f'{step} N^{fits[step][0]:.2f}' for step in fits)
        print(f'  {method}: measured growth {exps}')
        for name, n, classes in (('VOC', VOC_MASKS, 21), ('COCO', COCO_MASKS, 81)):
            b, a = fits['knn']
            t = dict(knn=a * n ** b, graph=largest['graph'] * n / largest['n'],
                     cg=largest['cg'] * n / largest['n'] * classes / 21)
            total = sum(t.values())
            print(f'    {name} N={n:,}: kNN {t["knn"] / 60:7.1f} min, graph {t["graph"] / 60:5.1f} '
                  f'min, CG ({classes} classes) {t["cg"] / 60:5.1f} min = {total / 60:7.1f} min; '
                  f'peak {(mem_base + mem_slope * n) / 1024:5.1f} GiB (extrapolated)')
    flop = 2 * COCO_MASKS ** 2 * 512
    print(f'  COCO exact kNN on one GPU by the FLOP model (not measured): 2·N²·D = {flop:.2e} '
          f'FLOP at {args.gpu_tflops:g} TFLOP/s = {flop / args.gpu_tflops / 1e12 / 60:.1f} min; '
          f'GPU memory: base {COCO_MASKS * 512 * 4 / 2 ** 30:.1f} GiB + the tile budget')
    for name, n, classes in (('VOC', VOC_MASKS, 21), ('COCO', COCO_MASKS, 81)):
        print(f'  {name}: every other process maps F ({n * classes * 8 / 2 ** 30:.2f} GiB, '
              'shared page cache) whatever the number of processes')


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--images', type=int, default=1, help='timed images per variant')
    parser.add_argument('--warmup', type=int, default=1, help='untimed images per variant')
    parser.add_argument('--masks', type=int, default=40, help='SAM masks per image')
    parser.add_argument('--window-batch', type=int, default=8)
    parser.add_argument('--probe-iters', type=int, default=50)
    parser.add_argument('--knn-n', type=int, default=20000)
    parser.add_argument('--scale', action='store_true',
                        help="time LP's kNN, graph and CG at growing N and extrapolate")
    parser.add_argument('--scale-n', type=int, nargs='+', default=[10000, 20000, 40000])
    parser.add_argument('--scale-methods', nargs='*', help='kNN methods (exact, ivf, hnsw)')
    parser.add_argument('--scale-n-approx', type=int, nargs='*', default=[],
                        help='further N for the approximate index only')
    parser.add_argument('--dtype', default='float32', help='exact kNN: float32 or bfloat16')
    parser.add_argument('--gpu-tflops', type=float, default=50.,
                        help='per-GPU throughput of the FLOP model (fp32: about 50)')
    parser.add_argument('--tiny', action='store_true',
                        help='a tiny random CLIP for the mask embeddings (checks that it runs)')
    args = parser.parse_args(argv)
    if args.scale:
        print(f'device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}')
        print('label propagation at scale (k = 50, D = 512):')
        bench_scale(args)
        return
    torch.set_grad_enabled(True)
    print(f'device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}')
    print(f'mask embeddings (DBA-CLIP {"tiny" if args.tiny else "ViT-B/16"}, 375x500 -> '
          '448x608, 40 windows + global):')
    bench_embeddings(args)
    print('probe training:')
    bench_probe(args)
    print('label propagation kNN:')
    bench_knn(args)
    print('mask store:')
    bench_store(args)


if __name__ == '__main__':
    main()
