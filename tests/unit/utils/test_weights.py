"""Pretrained weights without a network: WSSS_WEIGHTS_DIR, the download cache, downloads (from a
server on 127.0.0.1) and the errors an offline user sees; config URLs rewritten to local files."""
import functools
import http.server
import os
import os.path as osp
import re
import threading

import pytest
import torch
from conftest import ROOT, closed_port_url
from mmengine.config import Config

from wsss.registry import MODELS
from wsss.utils.weights import (
    download_cache_dir,
    find_weights,
    openmmlab_url,
    pretrained_refs,
    resolve_pretrained,
    url_file_name,
)

DLV3_R101 = 'configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-20k_voc12-train-aug-seeds-512x512.py'
SEGFORMER_B2 = 'configs/segformer/segformer_mit-b2_8xb2-40k_voc12-train-aug-seeds-512x512.py'
TINY_DLV3 = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'


def touch(path: str, content: bytes = b'weights') -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(content)
    return path


def test_a_file_is_found_as_a_path_then_in_the_weights_dir_then_in_the_cache(weights_dir, tmp_path):
    own = touch(str(tmp_path / 'own.pth'))
    assert find_weights(own) == own
    in_dir = touch(osp.join(weights_dir, 'w.pth'))
    cached = touch(osp.join(download_cache_dir(), 'w.pth'))
    assert download_cache_dir().startswith(str(tmp_path))  # TORCH_HOME moved by the fixture
    for name in ('w.pth', 'checkpoints/w.pth', closed_port_url('w.pth')):
        assert find_weights(name) == in_dir
    os.remove(in_dir)
    assert find_weights('checkpoints/w.pth') == cached


def test_offline_download_error_names_file_url_folder_and_config_key(weights_dir):
    url = closed_port_url('mit_b9_123.pth')
    with pytest.raises(FileNotFoundError) as err:
        find_weights(url, config_key='model.backbone.init_cfg.checkpoint')
    msg = str(err.value)
    for part in ('mit_b9_123.pth', url, 'WSSS_WEIGHTS_DIR', weights_dir,
                 'model.backbone.init_cfg.checkpoint'):
        assert part in msg, msg
    assert not os.listdir(download_cache_dir())  # no partial file left behind


def test_a_missing_file_without_url_names_the_config_key(weights_dir):
    with pytest.raises(FileNotFoundError, match=r'nowhere/x\.pth not found.*WSSS_WEIGHTS_DIR.*'
                                                r'`model\.pretrained`'):
        find_weights('nowhere/x.pth', config_key='model.pretrained')


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_download_goes_to_the_cache_once(weights_dir, tmp_path):
    served = tmp_path / 'served'
    touch(str(served / 'r18_tiny-abc.pth'), b'x' * 1000)
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{server.server_address[1]}/r18_tiny-abc.pth'
    try:
        path = find_weights(url)
    finally:
        server.shutdown()
        server.server_close()
    assert path == osp.join(download_cache_dir(), 'r18_tiny-abc.pth')
    assert open(path, 'rb').read() == b'x' * 1000
    assert os.listdir(download_cache_dir()) == ['r18_tiny-abc.pth']  # the temp file renamed
    assert find_weights(url) == path  # the server is gone: the cache answers


def test_openmmlab_names_map_to_mmengines_urls():
    assert re.fullmatch(r'resnet101_v1c-\w+\.pth',
                        url_file_name(openmmlab_url('open-mmlab://resnet101_v1c')))
    with pytest.raises(KeyError, match='no_such_net'):
        openmmlab_url('open-mmlab://no_such_net')


def test_resolve_pretrained_writes_local_files_into_the_config(weights_dir):
    cfg = Config.fromfile(osp.join(ROOT, DLV3_R101))
    resnet = touch(osp.join(weights_dir, url_file_name(openmmlab_url(cfg.model.pretrained))))
    assert resolve_pretrained(cfg) == [resnet]
    assert cfg.model.pretrained == resnet
    assert resolve_pretrained(cfg) == []  # local paths are left alone

    cfg = Config.fromfile(osp.join(ROOT, SEGFORMER_B2))
    checkpoint = cfg.model.backbone.init_cfg.checkpoint
    cfg.model.backbone.init_cfg.checkpoint = closed_port_url(url_file_name(checkpoint))
    with pytest.raises(FileNotFoundError, match=r'mit_b2_\w+-\w+\.pth.*'
                                                r'model\.backbone\.init_cfg\.checkpoint'):
        resolve_pretrained(cfg)
    mit = touch(osp.join(weights_dir, url_file_name(checkpoint)))
    resolve_pretrained(cfg)
    assert cfg.model.backbone.init_cfg.checkpoint == mit


def test_refs_leave_open_clip_tags_and_local_paths_alone():
    model = dict(clip=dict(name='ViT-B-16', pretrained='openai'), pretrained='x.pth',
                 init_cfg=[dict(type='Normal', checkpoint='http://a/b.pth'),
                           dict(type='Pretrained', checkpoint='https://a/c.pth')])
    assert [key for _, _, key in pretrained_refs(model)] == ['model.init_cfg.1.checkpoint']


def test_resolved_weights_are_what_the_model_is_initialised_with(weights_dir):
    cfg = Config.fromfile(osp.join(ROOT, TINY_DLV3))
    torch.manual_seed(0)
    source = MODELS.build(cfg.model)
    torch.save(source.backbone.state_dict(), osp.join(weights_dir, 'r18_tiny.pth'))
    cfg.model.pretrained = closed_port_url('r18_tiny.pth')
    resolve_pretrained(cfg)
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for (name, a), b in zip(source.backbone.state_dict().items(),
                            model.backbone.state_dict().values()):
        assert torch.equal(a, b), name
