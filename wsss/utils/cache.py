"""A small on-disk cache for values that are slow to derive from a dataset (e.g. image-level
labels read from 10k masks), keyed by the paths, sizes and modification times of the files they
come from."""
import hashlib
import json
import os
import os.path as osp
from typing import Any, Callable, Sequence

from ..io import atomic_write


def cache_dir() -> str:
    """``$WSSS_CACHE_DIR``, else ``~/.cache/wsss``."""
    return os.environ.get('WSSS_CACHE_DIR', osp.join(osp.expanduser('~'), '.cache', 'wsss'))


def files_fingerprint(paths: Sequence[str], extra: str = '') -> str:
    """sha1 over (absolute path, size, mtime) of every file: any change to any file changes it."""
    h = hashlib.sha1(extra.encode())
    for p in paths:
        st = os.stat(p)
        h.update(f'{osp.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
    return h.hexdigest()


def cached_json(kind: str, key: str, compute: Callable[[], Any]) -> Any:
    """Return the JSON value cached under ``kind/key``, computing and storing it when absent.

    The cache is best effort: an unwritable cache directory only costs the recomputation.
    """
    path = osp.join(cache_dir(), kind, key + '.json')
    if osp.isfile(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
    value = compute()
    try:
        with atomic_write(path, 'w') as f:
            json.dump(value, f)
    except OSError:
        pass
    return value
