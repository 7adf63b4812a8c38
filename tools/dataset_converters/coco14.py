"""COCO 2014 instance annotations -> semantic GT PNGs (0 background, 1..80, 255 ignored crowd).

    python tools/dataset_converters/coco14.py data/coco2014 [--splits train val] [--nproc 8]

Writes ``SegmentationClass/{split}2014/<file stem>.png`` for every image with an annotation (see
wsss.datasets.coco for the overlap and crowd rules). Existing PNGs are kept, so an interrupted run
resumes; each PNG is written atomically.
"""
import argparse
import multiprocessing
import os
import os.path as osp
from typing import Tuple

import mmengine

from wsss.datasets.coco import (CROWD_MODES, category_to_label, coco_semantic_mask,
                                image_class_ids, load_coco)
from wsss.datasets.seeds import write_label_map

_STATE: dict = {}  # the COCO index, shared with forked workers


def _convert_one(task: Tuple[int, str]) -> None:
    img_id, out = task
    mask = coco_semantic_mask(_STATE['coco'], img_id, _STATE['cat_to_label'], _STATE['crowd'])
    write_label_map(out, mask)


def convert_split(data_root: str, split: str, crowd: str = 'label', nproc: int = 1) -> int:
    ann_file = osp.join(data_root, 'annotations', f'instances_{split}2014.json')
    coco = load_coco(ann_file)
    _STATE.update(coco=coco, cat_to_label=category_to_label(coco, ann_file), crowd=crowd)
    out_dir = osp.join(data_root, 'SegmentationClass', f'{split}2014')
    os.makedirs(out_dir, exist_ok=True)
    tasks = []
    for img_id in sorted(coco.getImgIds()):
        if not image_class_ids(coco, img_id, _STATE['cat_to_label'], crowd):
            continue
        stem = osp.splitext(coco.imgs[img_id]['file_name'])[0]
        out = osp.join(out_dir, stem + '.png')
        if not osp.isfile(out):
            tasks.append((img_id, out))
    if nproc > 1 and tasks:
        with multiprocessing.get_context('fork').Pool(nproc) as pool:
            for _ in mmengine.track_iter_progress(
                    (pool.imap_unordered(_convert_one, tasks, chunksize=64), len(tasks))):
                pass
    elif tasks:
        for task in mmengine.track_iter_progress(tasks):
            _convert_one(task)
    return len(tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data_root', help='folder with annotations/ train2014/ val2014/')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--crowd', choices=CROWD_MODES, default='label',
                        help='crowd regions: painted with their class (label) or 255 (ignore)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    args = parser.parse_args()
    for split in args.splits:
        n = convert_split(args.data_root, split, args.crowd, args.nproc)
        print(f'{split}: wrote {n} masks')


if __name__ == '__main__':
    main()
