"""One atomic write for every file wsss keeps: a reader sees the old file or the whole new one.

The content goes to ``<path>.<pid>.tmp`` beside the file, which is renamed over ``path`` once
complete (``os.replace``: atomic on one file system); on any failure the temp file is removed.
A process killed in the middle leaves only its temp file, which the next run's sampler removes
(:func:`remove_stale_temp_files`). A full disk is one line naming the path and the free space.
"""
import contextlib
import errno
import os
import os.path as osp
from typing import IO, Iterator, Optional

TEMP_SUFFIX = '.tmp'
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """No space (or quota) left where a file was written; the message names the path and the
    free space. Built from the message alone, so that it pickles across worker processes."""


def free_space(path: str) -> str:
    """The space free to this user on the file system of ``path``, e.g. '1.5 GiB'."""
    folder = osp.dirname(osp.abspath(path))
    while folder and not osp.isdir(folder):
        folder = osp.dirname(folder)
    try:
        st = os.statvfs(folder)
    except OSError:
        return 'unknown'
    size = float(st.f_bavail * st.f_frsize)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if size < 1024 or unit == 'GiB':
            return f'{size:.0f} {unit}' if unit == 'B' else f'{size:.1f} {unit}'
        size /= 1024
    return 'unknown'


def disk_full_error(path: str) -> DiskFullError:
    return DiskFullError(f'disk full writing {path} ({free_space(path)} free there): free some '
                         'space, then rerun the same command to resume')


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'wb', newline: Optional[str] = None) -> Iterator[IO]:
    """``with atomic_write(path) as f: ...`` writes ``f`` to a temp file beside ``path`` and
    renames it into place when the block ends without an error; otherwise the temp file is
    removed and ``path`` is left as it was. ``mode``: 'wb' or 'w'; ``newline``: ``open``'s, for
    text ('' for the csv module)."""
    if mode not in ('wb', 'w'):
        raise ValueError(f"atomic_write writes whole files: mode 'wb' or 'w', got {mode!r}")
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}{TEMP_SUFFIX}'
    try:
        with open(tmp, mode, newline=newline) as f:
            yield f
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in DISK_FULL:
            raise disk_full_error(path) from e
        raise
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def remove_stale_temp_files(folder: str) -> int:
    """Delete the temp files a killed writer left in ``folder``; returns how many. Call it only
    while nothing writes there."""
    if not osp.isdir(folder):
        return 0
    removed = 0
    for name in os.listdir(folder):
        if name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):  # another rank removed it first
                os.remove(osp.join(folder, name))
                removed += 1
    return removed
