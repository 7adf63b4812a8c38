"""Users' own data: a folder of images plus a labels file naming the classes in each image."""
import csv
import io
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

from ..io.seeds import voc_palette
from ..registry import DATASETS
from .base import WSSSDataset, class_index
from .class_names import with_background

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def read_labels_rows(path: str) -> Iterator[Tuple[int, List[str]]]:
    """(line number, fields) of each row of a CSV labels file, read with the csv module: quoted
    fields, spaces after the commas skipped. UTF-8 with or without a byte-order mark (spreadsheet
    programs write one); another encoding is one error naming the file, the line and what to do.
    """
    with open(path, 'rb') as f:
        data = f.read()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b'\n') + 1
        raise ValueError(f'{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the '
                         'file as UTF-8 ("CSV UTF-8" in a spreadsheet program)') from None
    reader = csv.reader(io.StringIO(text, newline=''), skipinitialspace=True)
    for row in reader:
        yield reader.line_num, row


@DATASETS.register_module()
class ImageFolderDataset(WSSSDataset):
    """Images under ``img_dir`` and a CSV labels file, one image a line::

        # image, class, class, ...
        street_001.jpg, person, car
        kitchen/cat_002.png, cat

    Class names must be among ``classes`` (the foreground classes, in id order 1..C; the config
    gives them); an unknown one is an error naming the file and line. An image listed with no
    class is kept (all background). ``seg_map_dir``, optional, holds GT masks ``<name>.png`` for
    evaluation.
    """

    def __init__(self, img_dir: str, labels_file: str, classes: Sequence[str],
                 seg_map_dir: Optional[str] = None, data_root: Optional[str] = None,
                 **kwargs) -> None:
        if not classes:
            raise ValueError('ImageFolderDataset needs the foreground class names (classes=...)')
        self.labels_file = labels_file
        metainfo = dict(classes=with_background(classes), palette=voc_palette(len(classes) + 1))
        data_prefix = dict(img_path=img_dir)
        if seg_map_dir:
            data_prefix['seg_map_path'] = seg_map_dir
        super().__init__(ann_file=labels_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'labels file {self.ann_file} not found')
        index = class_index(self.metainfo['classes'])
        img_dir, seg_dir = self.data_prefix['img_path'], self.data_prefix.get('seg_map_path')
        data_list, seen = [], set()
        for lineno, row in read_labels_rows(self.ann_file):
            row = [c.strip() for c in row]
            if not row or not row[0] or row[0].startswith('#'):
                continue
            file_name, names = row[0], [c for c in row[1:] if c]
            where = f'{self.ann_file}:{lineno}'
            unknown = [c for c in names if c not in index]
            if unknown:
                raise ValueError(f'{where}: unknown class {unknown[0]!r}; the classes are '
                                 f'{list(index)}')
            if file_name in seen:
                raise ValueError(f'{where}: {file_name} is listed twice')
            seen.add(file_name)
            name, suffix = osp.splitext(file_name)
            if suffix.lower() not in IMAGE_SUFFIXES:
                raise ValueError(f'{where}: {file_name} is not an image ({IMAGE_SUFFIXES})')
            img_path = osp.join(img_dir, file_name)
            if not osp.isfile(img_path):
                raise FileNotFoundError(f'{where}: image {img_path} not found')
            seg = osp.join(seg_dir, name + '.png') if seg_dir else None
            data_list.append(self.make_data_info(
                img_path, name, (index[c] for c in names),
                seg if seg and osp.isfile(seg) else None))
        return data_list
