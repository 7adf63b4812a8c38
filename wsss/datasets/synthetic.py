"""A generated mini dataset in VOC layout, for smoke runs and the demo.

Each image is a textured background with one to three shapes; every class has its own colour and
shape, so a model can learn it in minutes on a CPU. It is written with GT masks, XML annotations and
split lists exactly like VOC 2012, so every VOC code path runs on it::

    python -m wsss.datasets.synthetic data/mini_voc --train 32 --val 8
"""
import argparse
import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from ..io.seeds import write_label_map
from .class_names import VOC12_CLASSES

# class id -> (BGR colour, shape); a small subset of VOC's classes.
SYNTHETIC_CLASSES: Dict[int, Tuple[Tuple[int, int, int], str]] = {
    VOC12_CLASSES.index('cat') + 1: ((40, 60, 220), 'ellipse'),
    VOC12_CLASSES.index('dog') + 1: ((200, 120, 30), 'rectangle'),
    VOC12_CLASSES.index('person') + 1: ((60, 200, 60), 'triangle'),
    VOC12_CLASSES.index('car') + 1: ((30, 200, 230), 'diamond'),
}


def _shape_mask(shape: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cy, cx = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
    ry, rx = rng.integers(h // 8, h // 4), rng.integers(w // 8, w // 4)
    if shape == 'ellipse':
        cv2.ellipse(mask, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, 1, -1)
    elif shape == 'rectangle':
        cv2.rectangle(mask, (int(cx - rx), int(cy - ry)), (int(cx + rx), int(cy + ry)), 1, -1)
    else:
        pts = ([(cx, cy - ry), (cx - rx, cy + ry), (cx + rx, cy + ry)] if shape == 'triangle'
               else [(cx, cy - ry), (cx + rx, cy), (cx, cy + ry), (cx - rx, cy)])
        cv2.fillPoly(mask, [np.array(pts, np.int32)], 1)
    return mask.astype(bool)


def make_sample(rng: np.random.Generator, size: Tuple[int, int] = (96, 128)
                ) -> Tuple[np.ndarray, np.ndarray]:
    """One (BGR image, label map) pair with 1-3 objects of distinct classes."""
    h, w = size
    base = rng.integers(60, 160, size=3)
    img = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255)
    label = np.zeros((h, w), np.uint8)
    classes = rng.choice(sorted(SYNTHETIC_CLASSES), size=rng.integers(1, 4), replace=False)
    for c in classes:
        colour, shape = SYNTHETIC_CLASSES[int(c)]
        m = _shape_mask(shape, h, w, rng)
        img[m] = np.clip(np.array(colour) + rng.normal(0, 15, (int(m.sum()), 3)), 0, 255)
        label[m] = c
    # VOC draws a 255 'void' border around objects.
    edges = cv2.morphologyEx(label, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    label[edges] = 255
    return img.astype(np.uint8), label


def _xml(name: str, size: Tuple[int, int], label: np.ndarray) -> str:
    objects = []
    for c in sorted(int(v) for v in np.unique(label) if 0 < v < 255):
        ys, xs = np.nonzero(label == c)
        objects.append(
            f'<object><name>{VOC12_CLASSES[c - 1]}</name><difficult>0</difficult><bndbox>'
            f'<xmin>{xs.min() + 1}</xmin><ymin>{ys.min() + 1}</ymin><xmax>{xs.max() + 1}</xmax>'
            f'<ymax>{ys.max() + 1}</ymax></bndbox></object>')
    return (f'<annotation><filename>{name}.jpg</filename><size><width>{size[1]}</width>'
            f'<height>{size[0]}</height><depth>3</depth></size>{"".join(objects)}</annotation>\n')


def make_synthetic_voc(root: str, splits: Sequence[Tuple[str, int]] = (('train', 32), ('val', 8)),
                       size: Tuple[int, int] = (96, 128), seed: int = 0) -> str:
    """Write the tree under ``root`` (idempotent: the same seed writes the same files)."""
    rng = np.random.default_rng(seed)
    for sub in ('JPEGImages', 'SegmentationClass', 'Annotations', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for split, count in splits:
        names = [f'{split}_{i:04d}' for i in range(count)]
        for name in names:
            img, label = make_sample(rng, size)
            Image.fromarray(img[:, :, ::-1]).save(
                osp.join(root, 'JPEGImages', name + '.jpg'), quality=95)
            write_label_map(osp.join(root, 'SegmentationClass', name + '.png'), label)
            with open(osp.join(root, 'Annotations', name + '.xml'), 'w') as f:
                f.write(_xml(name, size, label))
        with open(osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', nargs='?', default='data/mini_voc')
    parser.add_argument('--train', type=int, default=32)
    parser.add_argument('--val', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    make_synthetic_voc(args.root, (('train', args.train), ('val', args.val)), seed=args.seed)
    print(f'mini VOC tree written to {args.root}')


if __name__ == '__main__':
    main()
