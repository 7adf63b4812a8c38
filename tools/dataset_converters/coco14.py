"""COCO 2014 instance annotations -> semantic GT PNGs (0 background, 1..80, 255 ignored crowd).

    python tools/dataset_converters/coco14.py data/coco2014 [--splits train val] [--nproc 8]

Writes ``SegmentationClass/{split}2014/<file stem>.png`` for every image with an annotation (see
wsss.datasets.coco for the overlap and crowd rules). Existing PNGs are kept, so an interrupted run
resumes; each PNG is written atomically.

    python tools/dataset_converters/coco14.py data/coco2014 --compare-labels train.txt

writes nothing and prints how the image-level labels derived from the annotations (crowd
annotations counting, as COCO14Dataset does by default) differ from a split file with labels
(``<image name> <0-based class id> ...`` a line, the released CLIP-ES ``coco14/train.txt``):
images on one side only, images whose classes differ, classes on one side only, and the
(image, class) pairs that only crowd annotations make. The split is that of ``--splits`` when it
names one, else the one the list's first name starts with (``COCO_train2014_...``).
"""
import argparse
import multiprocessing
import os
import os.path as osp
from collections import Counter
from typing import List, Tuple

import mmengine

from wsss.datasets.base import read_label_list
from wsss.datasets.class_names import COCO14_CLASSES
from wsss.datasets.coco import (
    CROWD_MODES,
    category_to_label,
    coco_semantic_mask,
    compare_labels,
    image_class_ids,
    load_coco,
)
from wsss.io.seeds import write_label_map

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


def list_split(listed: List[Tuple[str, List[int]]], splits: List[str], path: str) -> str:
    """The split a label list covers: the one of ``--splits`` if it names one, else the one
    its first image name starts with."""
    if len(splits) == 1:
        return splits[0]
    first = listed[0][0] if listed else ''
    for split in splits:
        if first.startswith(f'COCO_{split}2014_'):
            return split
    raise SystemExit(f'error: cannot tell the split of {path} from its first name {first!r}: '
                     'give it with --splits')


def _names(names: List[str], shown: int = 5) -> str:
    more = f', ... ({len(names) - shown} more)' if len(names) > shown else ''
    return ', '.join(names[:shown]) + more


def _classes(counts: Counter) -> str:
    return ', '.join(f'{COCO14_CLASSES[c - 1]} {n}' for c, n in counts.most_common()) or '-'


def print_comparison(data_root: str, list_path: str, splits: List[str]) -> None:
    """Print how the labels of ``list_path`` differ from the annotations' (module docstring)."""
    listed = read_label_list(list_path, len(COCO14_CLASSES))
    split = list_split(listed, splits, list_path)
    ann_file = osp.join(data_root, 'annotations', f'instances_{split}2014.json')
    coco = load_coco(ann_file)
    diff = compare_labels(coco, category_to_label(coco, ann_file), listed)
    print(f'{list_path} against {ann_file} (crowd annotations counting):')
    print(f"  images: {diff['listed']} listed, {diff['annotated']} with annotations")
    print(f"  only in the list: {len(diff['only_listed'])} {_names(diff['only_listed'])}")
    print(f"  only in the annotations: {len(diff['only_annotated'])} "
          f"{_names(diff['only_annotated'])}")
    print(f"  images in both whose classes differ: {len(diff['differ'])} "
          f"{_names(diff['differ'])}")
    print(f"  classes only in the annotations: {_classes(diff['extra_annotated'])}")
    print(f"  classes only in the list: {_classes(diff['extra_listed'])}")
    print(f"  (image, class) pairs from crowd annotations only: {diff['crowd_only']}, "
          f"{diff['crowd_only_listed']} of them in the list")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data_root', help='folder with annotations/ train2014/ val2014/')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--crowd', choices=CROWD_MODES, default='label',
                        help='crowd regions: painted with their class (label) or 255 (ignore)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--compare-labels', metavar='LIST',
                        help='write nothing; print how the labels of the split file LIST '
                             'differ from the annotations')
    args = parser.parse_args()
    if args.compare_labels:
        try:
            print_comparison(args.data_root, args.compare_labels, args.splits)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f'error: {e}')
        return
    for split in args.splits:
        n = convert_split(args.data_root, split, args.crowd, args.nproc)
        print(f'{split}: wrote {n} masks')


if __name__ == '__main__':
    main()
