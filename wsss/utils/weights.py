"""Pretrained weights for users with and without a network.

A weights file is looked for, in order: the path itself, ``$WSSS_WEIGHTS_DIR/<file name>`` (a folder
of files copied by hand to an offline machine), the download cache (torch hub's
``checkpoints`` folder, where mmengine puts its ``open-mmlab://`` and URL downloads too); else it is
downloaded into the cache when its URL is known. Offline, the error names the file, the URL, the
folder and the config key to set.
"""
import hashlib
import http.client
import os
import os.path as osp
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
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
            f'{config_key}=PATH) or put it in ${WEIGHTS_DIR_ENV}; `python tools/weights.py list` '
            'shows every file the configs need')
    dst = osp.join(download_cache_dir(), file_name)
    os.makedirs(osp.dirname(dst), exist_ok=True)
    print_log(f'downloading {url} to {dst}', logger='current')
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        digest = embedded_digest(file_name, url)  # torch hub checks a sha256 (prefix)
        torch.hub.download_url_to_file(  # writes a temp file, then renames: atomic
            url, dst, hash_prefix=digest[1] if digest and digest[0] == 'sha256' else None)
    except (OSError, ValueError, RuntimeError, http.client.HTTPException) as e:
        raise FileNotFoundError(
            f'weights {file_name} are not in {_weights_dir_text()} or {download_cache_dir()} and '
            f'could not be downloaded from {url} ({e}); without a network, download the file '
            f'elsewhere and put it in ${WEIGHTS_DIR_ENV}, or set `{config_key}` to it '
            f'(--cfg-options {config_key}=PATH); `python tools/weights.py list` shows every '
            'file the configs need') from e
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
        for name in ('pretrained', 'checkpoint'):
            value = node.get(name)
            if isinstance(value, str) and value.startswith(remote) and \
                    (name == 'pretrained' or node.get('type') == 'Pretrained'):
                yield node, name, f'{key}.{name}'
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
    for node, name, key in list(pretrained_refs(cfg.get('model'))):
        ref = node[name]
        url = openmmlab_url(ref) if ref.startswith(OPENMMLAB_PREFIXES) else ref
        if not url.startswith(URL_PREFIXES):
            continue  # a file under mmengine's home (a user's open_mmlab.json): mmengine finds it
        node[name] = find_weights(url, config_key=key)
        print_log(f'{key}: {ref} -> {node[name]}', logger='current')
        files.append(node[name])
    return files


# -- the weight files the shipped configs name (tools/weights.py) ------------------------------

HUB_HASH = re.compile(r'-([0-9a-f]{8,})\.[a-z]+$')  # torch hub / OpenMMLab: name-<sha256 prefix>
SAM_HASH = re.compile(r'^sam_vit_[hlb]_([0-9a-f]{6})\.pth$')  # segment-anything: <md5 prefix>
OPENAI_HASH = re.compile(r'/([0-9a-f]{64})/[^/]+$')  # OpenAI's CLIP URLs: the whole sha256


@dataclass
class WeightFile:
    """A weights file some configs need: where it comes from, the digest its URL or name
    carries (``(algorithm, hex prefix)``: all the project can verify without the file), and the
    config keys that name it with the path each gives."""
    file_name: str
    url: Optional[str]
    digest: Optional[Tuple[str, str]]
    uses: List[Tuple[str, str, Optional[str]]] = field(default_factory=list)  # config, key, path

    def locations(self) -> List[str]:
        """Where it is looked for, in order: the paths configs give, $WSSS_WEIGHTS_DIR, the
        download cache."""
        paths = [p for _, _, p in self.uses if p and osp.basename(p) == self.file_name]
        folders = [os.environ.get(WEIGHTS_DIR_ENV), download_cache_dir()]
        return list(dict.fromkeys(
            paths + [osp.join(f, self.file_name) for f in folders if f]))

    def find(self) -> Optional[str]:
        return next((p for p in self.locations() if osp.isfile(p)), None)


def embedded_digest(file_name: str, url: Optional[str] = None) -> Optional[Tuple[str, str]]:
    """The digest a weights URL or file name carries: OpenAI's CLIP URLs the whole sha256 (which
    open_clip checks), torch hub / OpenMMLab names ``-<hex>`` a sha256 prefix (which torch hub
    checks), SAM's released names an md5 prefix. None when neither carries one."""
    for pattern, algorithm, text in ((OPENAI_HASH, 'sha256', url or ''),
                                     (SAM_HASH, 'md5', file_name),
                                     (HUB_HASH, 'sha256', file_name)):
        match = pattern.search(text)
        if match:
            return algorithm, match.group(1)
    return None


def file_digest(path: str, algorithm: str) -> str:
    """The hex digest of a file, read in 16 MiB chunks (a SAM ViT-H file is 2.4 GiB)."""
    h = hashlib.new(algorithm)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 24), b''):
            h.update(chunk)
    return h.hexdigest()


def check_weights_file(path: str, digest: Optional[Tuple[str, str]]) -> Tuple[bool, str]:
    """(valid, what was found) of a local file against the digest its URL carries."""
    size = f'{osp.getsize(path) / 2 ** 20:,.1f} MiB'
    if digest is None:
        return True, f'{size}, no digest to check'
    algorithm, expected = digest
    actual = file_digest(path, algorithm)
    if actual.startswith(expected):
        return True, f'{size}, {algorithm} {actual[:12]}... matches'
    return False, f'{size}, {algorithm} {actual[:12]}... expected {expected[:12]}...'


def config_weights(cfg: Config) -> Iterator[Tuple[str, Optional[str], str, Optional[str]]]:
    """(file name, URL, config key, path the config gives) of every weights file ``cfg``'s model
    loads: mmseg's ``pretrained`` / ``init_cfg`` URLs and ``open-mmlab://`` names, CLIP's
    ``pretrained='openai'`` (OpenAI's file) and SAM checkpoints; and the files a pipeline names
    (``pretrained = dict(clip=dict(file=..., url=...))``)."""
    from ..models.sam.build import SAM_URLS  # the models import this module
    pipeline_files = cfg.get('pretrained') if 'steps' in cfg else None
    for name, weights in (pipeline_files or {}).items():
        yield weights['file'], weights.get('url'), f'pretrained.{name}.file', None
    for node, field_name, key in pretrained_refs(cfg.get('model')):
        ref = node[field_name]
        url = openmmlab_url(ref) if ref.startswith(OPENMMLAB_PREFIXES) else ref
        yield url_file_name(url), url, key, None
    for node, key in _dicts(cfg.get('model'), 'model'):
        if key.endswith('clip') and node.get('pretrained') == 'openai' and \
                not node.get('model_cfg'):
            url = openai_clip_url(node.get('name', 'ViT-B-16'))
            if url:
                yield url_file_name(url), url, f'{key}.pretrained', None
        if 'model_type' in node and node.get('checkpoint') and not node.get('model_cfg'):
            path = node['checkpoint']
            url = SAM_URLS.get(node['model_type'])
            yield osp.basename(path), url, f'{key}.checkpoint', path


def openai_clip_url(name: str) -> Optional[str]:
    """The URL of OpenAI's release of the CLIP ``name``, from open_clip's table."""
    import open_clip
    try:
        return open_clip.get_pretrained_cfg(name, 'openai').get('url') or None
    except (KeyError, RuntimeError):
        return None


def _dicts(node: Any, key: str) -> Iterator[Tuple[dict, str]]:
    if isinstance(node, dict):
        yield node, key
        for k, v in node.items():
            yield from _dicts(v, f'{key}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _dicts(v, f'{key}.{i}')


def shipped_weights(config_files: Sequence[str]) -> Dict[str, WeightFile]:
    """The weight files ``config_files`` need, by file name, each with the configs and keys that
    name it."""
    files: Dict[str, WeightFile] = {}
    for path in config_files:
        for name, url, key, given in config_weights(Config.fromfile(path)):
            entry = files.setdefault(name, WeightFile(name, url, embedded_digest(name, url)))
            entry.uses.append((path, key, given))
    return dict(sorted(files.items()))
