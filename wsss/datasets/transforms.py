"""Loading and packing transforms that check their input and name the file when it is bad."""
from typing import Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.dataset import Compose
from mmseg.datasets.transforms import LoadAnnotations, PackSegInputs

from ..io import DamagedFileError
from ..io.seeds import IGNORE_INDEX, SeedError, check_label_map, read_label_map
from ..registry import TRANSFORMS

JPEG_SOI = b'\xff\xd8'


class ImageLoadError(OSError):
    """An image that cannot be decoded, or is truncated; the message names the file."""


# what fails one image of a dataset job, not the job: its image, or a per-image input (SAM
# masks, a mask-store file) that is missing or damaged; the writers list it in failed.json
IMAGE_ERRORS = (ImageLoadError, DamagedFileError, FileNotFoundError)


def mark_failed(sample, error: Exception) -> None:
    """Leave a data sample without outputs, with ``load_error`` for the writer to list."""
    sample.set_metainfo(dict(load_error=str(error)))


def jpeg_truncated(data: bytes) -> bool:
    """Whether a JPEG stream ends before its end-of-image marker (EOI).

    Walks the marker segments from the start: length-prefixed segments are skipped whole (so the
    EOI of an EXIF thumbnail does not count), the entropy-coded data after each start-of-scan up
    to the next marker that is neither a stuffed 0xFF00 nor a restart marker. Bytes after the
    EOI are allowed: phones append a video to "motion photos", some cameras a trailer. A stream
    whose structure cannot be followed is not called truncated; the decoder judges it.
    """
    pos, n = 2, len(data)
    while True:
        if pos + 1 >= n:
            return True
        if data[pos] != 0xFF:
            return False  # not a marker where one should be: leave it to the decoder
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        pos += 2
        if marker == 0xD9:  # EOI
            return False
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8):  # markers without a length
            continue
        if pos + 2 > n:
            return True
        pos += int.from_bytes(data[pos:pos + 2], 'big')
        if marker != 0xDA:  # not start-of-scan
            continue
        while True:  # entropy-coded data: up to the next real marker
            pos = data.find(b'\xff', pos)
            if pos < 0 or pos + 1 >= n:
                return True
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                pos += 2
            elif following == 0xFF:
                pos += 1
            else:
                break


def read_image_bytes(path: str, data: bytes, color_type: str = 'color',
                     backend: str = 'cv2') -> np.ndarray:
    """Decode an image, refusing truncated JPEGs (which OpenCV decodes silently, grey-filled)."""
    if data[:2] == JPEG_SOI and jpeg_truncated(data):
        raise ImageLoadError(f'image {path} is truncated (no JPEG end marker)')
    try:
        img = mmcv.imfrombytes(data, flag=color_type, backend=backend)
    except Exception as e:  # decoders raise many types
        raise ImageLoadError(f'cannot decode image {path}: {e}') from e
    if img is None:
        raise ImageLoadError(f'cannot decode image {path}')
    return img


@TRANSFORMS.register_module()
class LoadImage(LoadImageFromFile):
    """mmcv's LoadImageFromFile (BGR) with errors that name the file and a check for truncated
    JPEGs. With ``ignore_empty=True`` a bad image gives None (the dataset draws another).

    ``record_errors=True`` (seed and SAM-mask jobs) keeps a long job going instead: a bad image
    gives an empty (0, 0, 3) image and ``load_error`` (the message), which the later transforms
    pass through, the models skip and the writers list in ``failed.json``.
    """

    def __init__(self, *args, record_errors: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.record_errors = record_errors

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            try:
                data = fileio.get(path, backend_args=self.backend_args)
            except OSError as e:
                raise ImageLoadError(f'cannot read image {path}: {e}') from e
            img = read_image_bytes(path, data, self.color_type, self.imdecode_backend)
        except ImageLoadError as e:
            if self.ignore_empty:
                return None
            if self.record_errors:
                results.update(img=np.zeros((0, 0, 3), np.uint8), img_shape=(0, 0),
                               ori_shape=(0, 0), load_error=str(e))
                return results
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class SkipIfFailed:
    """Runs ``transforms`` (a list of configs) unless ``LoadImage(record_errors=True)`` marked
    the image ``load_error``: then the results pass unchanged, for a pipeline whose transforms
    cannot take an empty image (mmseg's Resize, TestTimeAug)."""

    def __init__(self, transforms: list) -> None:
        self.transforms = Compose(transforms)

    def __call__(self, results: dict) -> dict:
        return results if 'load_error' in results else self.transforms(results)


@TRANSFORMS.register_module()
class LoadLabelMap(LoadAnnotations):
    """mmseg's LoadAnnotations for GT masks and seeds alike, which also

    - checks the values (0..C and 255) and that the size equals the image's (``ori_shape``),
      with an error naming the file;
    - applies the confidence-guided loss: where ``conf_path`` is set (PseudoLabelDataset),
      pixels whose confidence is below ``conf_threshold`` become 255.
    """

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        label = read_label_map(path)
        num_classes = results.get('num_classes')
        if num_classes is not None:
            check_label_map(label, num_classes, path, results.get('ori_shape'))
        if results.get('conf_path'):
            conf = read_label_map(results['conf_path'])
            if conf.shape != label.shape:
                raise SeedError(f"{results['conf_path']}: size differs from its seed {path}")
            label = label.copy()
            label[conf.astype(np.float32) / 255 < results['conf_threshold']] = IGNORE_INDEX
        if results.get('label_map'):
            mapped = label.copy()
            for old, new in results['label_map'].items():
                mapped[label == old] = new
            label = mapped
        if results.get('reduce_zero_label', self.reduce_zero_label):
            label = label.astype(np.int16)
            label[label == 0] = IGNORE_INDEX
            label -= 1
            label[label == IGNORE_INDEX - 1] = IGNORE_INDEX
            label = label.astype(np.uint8)
        results['gt_seg_map'] = label
        results['seg_fields'].append('gt_seg_map')


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """mmseg's PackSegInputs that also carries ``img_name``, the image-level labels
    ``img_labels`` (multi-hot over 1..C) and ``LoadImage``'s ``load_error`` in the data sample's
    metainfo."""

    def __init__(self, meta_keys=('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                                  'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                                  'reduce_zero_label', 'img_name', 'img_labels',
                                  'load_error')) -> None:
        super().__init__(meta_keys=meta_keys)


def bounded_scale(size: Tuple[int, int], scale: float = 1.0,
                  max_long_side: Optional[int] = None) -> float:
    """``scale``, lowered where needed so that the long side of ``size`` times it is at most
    ``max_long_side`` (None: no bound)."""
    if max_long_side is not None and max(size) * scale > max_long_side:
        return max_long_side / max(size)
    return scale


@TRANSFORMS.register_module()
class ResizeToMultiple:
    """Resize an image so that each side is ``ceil(side * scale / divisor) * divisor`` (CLIP-ES:
    the ViT patch grid covers the whole image), bicubic with Pillow as CLIP's preprocessing does.
    ``ori_shape`` keeps the original size, to which CAMs and seeds are resized back.

    ``max_long_side`` bounds the ViT's token count: an image whose scaled long side is longer
    is scaled down to it first (a 6000x4000 photo to 640x432: 40x27 tokens instead of 375x250,
    whose attention weights in ViT-B/16, 12 heads x 93,751^2 float32, would need ~420 GB), so a
    photo of any size is seeded, at its own size, in the memory of the bound. None: no bound.
    """

    def __init__(self, divisor: int = 16, scale: float = 1.0, interpolation: str = 'bicubic',
                 backend: str = 'pillow', max_long_side: Optional[int] = None) -> None:
        self.divisor, self.scale, self.max_long_side = divisor, scale, max_long_side
        self.interpolation, self.backend = interpolation, backend

    def __call__(self, results: dict) -> dict:
        if 'load_error' in results:  # nothing to resize
            return results
        h, w = results['img'].shape[:2]
        scale = bounded_scale((h, w), self.scale, self.max_long_side)
        size = (int(np.ceil(w * scale / self.divisor)) * self.divisor,
                int(np.ceil(h * scale / self.divisor)) * self.divisor)
        if size != (w, h):
            results['img'] = mmcv.imresize(results['img'], size, interpolation=self.interpolation,
                                           backend=self.backend)
        results['img_shape'] = results['img'].shape[:2]
        results['scale_factor'] = (size[0] / w, size[1] / h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(divisor={self.divisor}, scale={self.scale}, '
                f'max_long_side={self.max_long_side})')


@TRANSFORMS.register_module()
class EnsureShortSide:
    """Upscale an image (and its seg maps) whose short side is below ``min_size`` so that it is
    ``min_size``, keeping the aspect ratio; larger images pass unchanged.

    FMA-WSSS's released prompt training keeps the short side of its rescaled images at least as
    long as the 224 crop, so crops need no padding; images with Pillow bicubic, seg maps nearest.
    """

    def __init__(self, min_size: int = 224, interpolation: str = 'bicubic',
                 backend: str = 'pillow') -> None:
        self.min_size, self.interpolation, self.backend = min_size, interpolation, backend

    def __call__(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        if min(h, w) >= self.min_size:
            return results
        scale = self.min_size / min(h, w)
        size = (self.min_size if w <= h else int(w * scale + 0.5),  # (w, h): the short side
                self.min_size if h < w else int(h * scale + 0.5))   # exactly min_size
        results['img'] = mmcv.imresize(results['img'], size, interpolation=self.interpolation,
                                       backend=self.backend)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imresize(results[key], size, interpolation='nearest',
                                         backend=self.backend)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(min_size={self.min_size})'
