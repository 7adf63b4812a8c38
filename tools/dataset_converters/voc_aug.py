"""SBD (Hariharan et al.) -> VOC 2012 SegmentationClassAug PNGs and the train_aug list.

    python tools/dataset_converters/voc_aug.py data/VOCdevkit/VOC2012 data/benchmark_RELEASE

Writes ``SegmentationClassAug/<name>.png`` from SBD's ``dataset/cls/<name>.mat`` (``GTcls``), then
adds the VOC ``SegmentationClass`` PNG for every VOC train/val image SBD lacks, and writes
``ImageSets/Segmentation/train_aug.txt`` = (SBD train ∪ SBD val ∪ VOC train) − VOC val
(10,582 images). Existing PNGs are kept, so an interrupted run resumes.
"""
import argparse
import os
import os.path as osp
import shutil
from typing import List

import mmengine
import numpy as np
from scipy.io import loadmat

from wsss.io.seeds import read_label_map, write_label_map


def read_list(path: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'list {path} not found')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def sbd_mask(path: str) -> np.ndarray:
    """The class mask of one SBD .mat file."""
    try:
        mat = loadmat(path, squeeze_me=True, struct_as_record=False)
        return np.asarray(mat['GTcls'].Segmentation, dtype=np.uint8)
    except (OSError, KeyError, AttributeError, ValueError) as e:
        raise ValueError(f'cannot read SBD annotation {path}: {e}') from e


def convert(voc_root: str, sbd_root: str) -> List[str]:
    sbd = osp.join(sbd_root, 'dataset') if osp.isdir(osp.join(sbd_root, 'dataset')) else sbd_root
    out_dir = osp.join(voc_root, 'SegmentationClassAug')
    os.makedirs(out_dir, exist_ok=True)
    sbd_names = read_list(osp.join(sbd, 'train.txt')) + read_list(osp.join(sbd, 'val.txt'))
    sets = osp.join(voc_root, 'ImageSets', 'Segmentation')
    voc_train = read_list(osp.join(sets, 'train.txt'))
    voc_val = read_list(osp.join(sets, 'val.txt'))

    for name in mmengine.track_iter_progress(sorted(set(sbd_names))):
        out = osp.join(out_dir, name + '.png')
        if not osp.isfile(out):
            write_label_map(out, sbd_mask(osp.join(sbd, 'cls', name + '.mat')))
    for name in sorted(set(voc_train + voc_val) - set(sbd_names)):
        out = osp.join(out_dir, name + '.png')
        if not osp.isfile(out):
            src = osp.join(voc_root, 'SegmentationClass', name + '.png')
            read_label_map(src)  # refuse a broken file now rather than at training time
            shutil.copyfile(src, out)

    val = set(voc_val)
    train_aug = sorted(set(sbd_names + voc_train) - val)
    with open(osp.join(sets, 'train_aug.txt'), 'w') as f:
        f.write('\n'.join(train_aug) + '\n')
    return train_aug


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('voc_root', help='VOCdevkit/VOC2012')
    parser.add_argument('sbd_root', help='benchmark_RELEASE (or its dataset/ folder)')
    args = parser.parse_args()
    names = convert(args.voc_root, args.sbd_root)
    masks = osp.join(args.voc_root, 'SegmentationClassAug')
    print(f'train_aug: {len(names)} images; masks in {masks}')


if __name__ == '__main__':
    main()
