"""What a resumed job checks before it skips an output, and what a reader says when it cannot
read one.

A file counts as done only when it ends as a complete file of its format ends: a PNG with its
``IEND`` chunk, an ``.npz`` (zip) with its end-of-central-directory record, a JSON store file
with the newline written after the document. That reads the last bytes of each file, not the
file: a resumed job over 100k outputs checks them in about the time a listing takes
(tools/benchmark/resume_check.py). It catches what a kill, a full disk, a power cut or a cut
copy leaves: a file cut short or ending in zeros. Damage inside a file (a flipped bit) is left
to the readers, whose errors name the file and the command that remakes it.
"""
import os
import os.path as osp
import struct
from typing import Optional

PNG_END = b'\x00\x00\x00\x00IEND\xaeB`\x82'
ZIP_END = b'PK\x05\x06'  # end of central directory, 22 bytes + a comment (np.savez: none)
TAIL = 22
ZIP64_LOCATOR = 20  # the zip64 end locator that precedes the record in large files


class DamagedFileError(ValueError):
    """A stored file that cannot be read; the message names it and the command remaking it."""


def incomplete(path: str) -> Optional[str]:
    """None when ``path`` is a complete file of its format (by its end), else why it is not:
    'missing', or what its end lacks. Other formats than PNG, npz and JSON count when present."""
    try:
        size = os.path.getsize(path)
        ext = osp.splitext(path)[1].lower()
        if ext not in ('.png', '.npz', '.json'):
            return None
        with open(path, 'rb') as f:
            f.seek(max(0, size - TAIL - ZIP64_LOCATOR))
            tail = f.read()
            if ext == '.npz' and not _zip_end(tail, size):
                f.seek(max(0, size - TAIL - ZIP64_LOCATOR - 65535))  # after a zip comment
                tail = f.read()
    except FileNotFoundError:
        return 'missing'
    except OSError as e:
        return f'unreadable: {e}'
    if ext == '.png':
        return None if tail.endswith(PNG_END) else 'cut short: no PNG end chunk'
    if ext == '.npz':
        return None if _zip_end(tail, size) else 'cut short: no zip directory at its end'
    if tail.endswith(b'\n'):
        return None
    return _json_without_newline(path)


def _zip_end(tail: bytes, size: int) -> bool:
    """Whether ``tail``, the end of a file of ``size`` bytes, is a zip's end-of-central-directory
    record (and comment) right after the central directory it points to."""
    at = tail.rfind(ZIP_END)
    if at < 0 or len(tail) - at - TAIL != int.from_bytes(tail[at + 20:at + 22], 'little'):
        return False
    directory_size, directory_at = struct.unpack('<II', tail[at + 12:at + 20])
    if tail[at - ZIP64_LOCATOR:at - ZIP64_LOCATOR + 4] == b'PK\x06\x07':
        return True  # a zip64 file: the record's fields hold placeholders
    return directory_size > 0 and directory_at + directory_size == size - len(tail) + at


def _json_without_newline(path: str) -> Optional[str]:
    """A JSON file written before stores ended with a newline: complete when it parses."""
    import json
    try:
        with open(path) as f:
            json.load(f)
    except (OSError, ValueError) as e:
        return f'cut short: {e}'
    return None


REMAKE = dict(
    seeds='tools/generate_seeds.py with --seed-dir {folder}',
    cams='tools/generate_seeds.py with --save-cams {folder}',
    sam_masks='tools/sam_masks.py with --mask-dir {folder}',
    mask_store='tools/generate_seeds.py with --seed-dir {parent}/seeds (or the --seed-dir whose '
               'mask store it is)',
)


def remake_hint(kind: str, path: str) -> str:
    """'delete <path> and rerun <the command that writes it> to remake it' for a file of a
    store ``kind``: seeds, cams, sam_masks or mask_store."""
    folder = osp.dirname(osp.abspath(path))
    command = REMAKE[kind].format(folder=folder, parent=osp.dirname(folder))
    return f'delete {path} and rerun {command} to remake it'
