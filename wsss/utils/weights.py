"""Pretrained weights for users with and without a network.

A weights file is looked for, in order: the path itself, ``$WSSS_WEIGHTS_DIR/<file name>`` (a folder
of files copied by hand to an offline machine), the download cache (torch hub's
``checkpoints`` folder, where mmengine puts its ``open-mmlab://`` and URL downloads too); else it is
downloaded into the cache when its URL is known. Offline, the error names the file, the URL, the
folder and the config key to set.
"""
import http.client
import os
import os.path as osp
import socket
from typing import Any, Iterator, List, Optional, Tuple
from urllib.parse import urlparse

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner.checkpoint import get_deprecated_model_names, get_external_models

WEIGHTS_DIR_ENV = 'WSSS_WEIGHTS_DIR'
URL_PREFIXES = ('http://', 'https://')
OPENMMLAB_PREFIXES = ('open-mmlab://', 'openmmlab://')
DOWNLOAD_TIMEOUT_S = 60  # a firewall that drops packets would otherwise hang the download forever


def download_cache_dir() -> str:
    """torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def url_file_name(url: str) -> str:
    """The file name a URL is cached under, as torch hub (and so mmengine) names it."""
    return osp.basename(urlparse(url).path)


def local_weights(file_name: str) -> Optional[str]:
    """``$WSSS_WEIGHTS_DIR/<file_name>`` or the cached download of that name, if either exists."""
    for folder in (os.environ.get(WEIGHTS_DIR_ENV), download_cache_dir()):
        if folder and osp.isfile(osp.join(folder, file_name)):
            return osp.join(folder, file_name)
    return None


def _weights_dir_text() -> str:
    return f'${WEIGHTS_DIR_ENV} ({os.environ.get(WEIGHTS_DIR_ENV) or "unset"})'


def find_weights(name_or_path: str, url: Optional[str] = None,
                 config_key: str = 'the weights path') -> str:
    """A local weights file for ``name_or_path`` (a path, a file name or a URL); when nothing
    local exists, ``url`` (or the URL ``name_or_path`` itself) is downloaded into the cache.

    Raises FileNotFoundError naming the file, the URL, ``$WSSS_WEIGHTS_DIR`` and ``config_key``.
    """
    if name_or_path.startswith(URL_PREFIXES):
        url, file_name = url or name_or_path, url_file_name(name_or_path)
    else:
        path = osp.expanduser(name_or_path)
        if osp.isfile(path):
            return path
        file_name = osp.basename(path)
    found = local_weights(file_name)
    if found is not None:
        return found
    if url is None:
        raise FileNotFoundError(
            f'weights {name_or_path} not found, nor {file_name} in {_weights_dir_text()} or '
            f'{download_cache_dir()}: set `{config_key}` to the file (--cfg-options '
            f'{config_key}=PATH) or put it in ${WEIGHTS_DIR_ENV}')
    dst = osp.join(download_cache_dir(), file_name)
    os.makedirs(osp.dirname(dst), exist_ok=True)
    print_log(f'downloading {url} to {dst}', logger='current')
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, dst)  # writes a temp file, then renames: atomic
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise FileNotFoundError(
            f'weights {file_name} are not in {_weights_dir_text()} or {download_cache_dir()} and '
            f'could not be downloaded from {url} ({e}); without a network, download the file '
            f'elsewhere and put it in ${WEIGHTS_DIR_ENV}, or set `{config_key}` to it '
            f'(--cfg-options {config_key}=PATH)') from e
    finally:
        socket.setdefaulttimeout(timeout)
    return dst


def openmmlab_url(name: str) -> str:
    """The URL of an ``open-mmlab://`` checkpoint name, from mmengine's own table (deprecated
    names mapped as mmengine maps them)."""
    model = name.split('://', 1)[1]
    model = get_deprecated_model_names().get(model, model)
    urls = get_external_models()
    if model not in urls:
        raise KeyError(f'{name} is not an open-mmlab checkpoint name known to mmengine')
    return urls[model]


def pretrained_refs(node: Any, key: str = 'model') -> Iterator[Tuple[dict, str, str]]:
    """(dict, field, config key) of each checkpoint a model config loads from a URL or an
    ``open-mmlab://`` name: mmseg's ``pretrained=...`` and ``init_cfg=dict(type='Pretrained',
    checkpoint=...)``. Other values (local paths, open_clip tags like ``'openai'``) are left out."""
    remote = URL_PREFIXES + OPENMMLAB_PREFIXES
    if isinstance(node, dict):
        for field in ('pretrained', 'checkpoint'):
            value = node.get(field)
            if isinstance(value, str) and value.startswith(remote) and \
                    (field == 'pretrained' or node.get('type') == 'Pretrained'):
                yield node, field, f'{key}.{field}'
        for k, v in node.items():
            yield from pretrained_refs(v, f'{key}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from pretrained_refs(v, f'{key}.{i}')


def resolve_pretrained(cfg: Config) -> List[str]:
    """Replace every URL / ``open-mmlab://`` checkpoint of ``cfg.model`` by a local file
    (:func:`find_weights`), so training starts offline from a file in ``$WSSS_WEIGHTS_DIR`` or
    the cache and fails early, with the key to set, when the file is nowhere. Returns the files."""
    files = []
    for node, field, key in list(pretrained_refs(cfg.get('model'))):
        ref = node[field]
        url = openmmlab_url(ref) if ref.startswith(OPENMMLAB_PREFIXES) else ref
        if not url.startswith(URL_PREFIXES):
            continue  # a file under mmengine's home (a user's open_mmlab.json): mmengine finds it
        node[field] = find_weights(url, config_key=key)
        print_log(f'{key}: {ref} -> {node[field]}', logger='current')
        files.append(node[field])
    return files
