"""What a resumed job pays to verify the outputs it skips, at growing N.

Writes N seed-like PNGs (500x375 palette images with a few regions, ~2 KB, as VOC seeds are)
into a temporary folder, then times, over all N, the checks a resumed job could make:

  exists     os.path.isfile: what resume trusted before (no verification)
  end        wsss.io.incomplete: the file's last bytes hold its format's end (what it does now)
  decode     a full PNG decode (Pillow): the alternative that reads every file

The figures are seconds for all N and ratios against ``exists`` in the same run; the page cache
is warm (the files were just written), as on a machine that resumes where it stopped.

    python tools/benchmark/resume_check.py [--sizes 1000 10000 100000] [--dir /scratch]
"""
import argparse
import os
import os.path as osp
import tempfile
import time
from typing import Callable, List, Optional

import numpy as np

from wsss.io import incomplete
from wsss.io.seeds import read_label_map, write_label_map


def seed_like(rng: np.random.Generator) -> np.ndarray:
    label = np.zeros((375, 500), np.uint8)
    for _ in range(3):
        y, x = rng.integers(0, 300), rng.integers(0, 400)
        label[y:y + rng.integers(20, 75), x:x + rng.integers(20, 100)] = rng.integers(1, 21)
    return label


def timed(check: Callable[[str], object], paths: List[str]) -> float:
    start = time.perf_counter()
    for p in paths:
        check(p)
    return time.perf_counter() - start


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000, 100000])
    parser.add_argument('--dir', help='where the files go (default: the temp folder)')
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    templates = [seed_like(rng) for _ in range(16)]
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        paths: List[str] = []
        rows = []
        for n in sorted(args.sizes):
            while len(paths) < n:
                path = osp.join(folder, f'{len(paths):07d}.png')
                write_label_map(path, templates[len(paths) % len(templates)])
                paths.append(path)
            exists = timed(osp.isfile, paths)
            end = timed(incomplete, paths)
            decode = timed(read_label_map, paths)
            rows.append((n, exists, end, decode))
        size = np.mean([os.path.getsize(p) for p in paths[:100]])
    print(f'seed PNGs of ~{size / 1024:.1f} KB; seconds for all N (ratio to exists)')
    print(f'{"N":>8} | {"exists":>8} | {"end (now)":>16} | {"decode":>16}')
    for n, exists, end, decode in rows:
        print(f'{n:>8} | {exists:8.3f} | {end:8.3f} ({end / exists:4.1f}x) | '
              f'{decode:8.3f} ({decode / exists:4.0f}x)')


if __name__ == '__main__':
    main()
