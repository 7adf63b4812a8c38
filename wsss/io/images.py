"""Image sizes as images are shown: the one size function of wsss (seeds, their checks and the
size-ordered batches agree with the decoded pixels)."""
from typing import Tuple

from PIL import Image

EXIF_ORIENTATION = 0x0112
TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # rotated by 90 or 270 degrees: width and height swap


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of an image as it is shown and decoded (``LoadImage``, ``mmcv.imread``:
    EXIF orientation applied), from its header, without decoding it. The one place sizes are
    read: seeds, their checks and the size-ordered batches agree with the pixels."""
    with Image.open(path) as img:
        orientation = img.getexif().get(EXIF_ORIENTATION, 1)
        if orientation in TRANSPOSED_ORIENTATIONS:
            return img.width, img.height
        return img.height, img.width
