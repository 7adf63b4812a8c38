"""Tiny datasets built in tmp dirs with hand-written content, helpers to run the tools, and the
tiers: tests/unit (one part of the package, in process), tests/tools (the scripts of tools/),
tests/e2e (whole pipelines, kill-and-resume, several processes, the demo), each a marker."""
import glob
import json
import os
import os.path as osp
import runpy
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from typing import Dict, List, Union

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from wsss.datasets.class_names import COCO14_CLASSES, VOC12_CLASSES
from wsss.io.seeds import write_label_map
from wsss.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
VOC = {name: i + 1 for i, name in enumerate(VOC12_CLASSES)}
COCO = {name: i + 1 for i, name in enumerate(COCO14_CLASSES)}
TESTS = osp.join(ROOT, 'tests')
# the tools the tests start import tests/hold_hook.py by name
os.environ['PYTHONPATH'] = os.pathsep.join([TESTS, *filter(None, os.environ.get(
    'PYTHONPATH', '').split(os.pathsep))])
TIERS = ('unit', 'tools', 'e2e')
# open_clip's model config of a two-block tiny CLIP, for the tests of the vision tower's rules
# (they run it in float64); the instant-test configs' is configs/_base_/models/clip_tiny.py
TWO_BLOCK_CLIP = dict(
    embed_dim=32, quick_gelu=True,
    vision_cfg=dict(image_size=64, patch_size=16, width=64, layers=2, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))

# Test modules import shared helpers from one another by module name (from test_seed_jobs import
# ...), as pytest's default import mode allows: every test folder is on sys.path, so that one
# tier, folder or file runs alone. Hence test file names are unique across folders.
for _folder in sorted({osp.dirname(p) for p in glob.glob(osp.join(TESTS, '**', 'test_*.py'),
                                                        recursive=True)}):
    if _folder not in sys.path:
        sys.path.append(_folder)


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test with its tier, the first folder under tests/: ``pytest -m unit``."""
    for item in items:
        tier = osp.relpath(str(item.path), TESTS).split(osp.sep)[0]
        if tier not in TIERS:
            raise pytest.UsageError(f'{item.path}: a test file belongs in tests/unit, '
                                    'tests/tools or tests/e2e (their marker is set from it)')
        item.add_marker(tier)


@pytest.fixture(autouse=True, scope='session')
def _registered(tmp_path_factory):
    os.environ['WSSS_CACHE_DIR'] = str(tmp_path_factory.mktemp('cache'))
    register_all_modules()


def process_state() -> Dict[str, object]:
    """What a test could change for the tests after it in its process."""
    return dict(torch_threads=torch.get_num_threads(), default_dtype=torch.get_default_dtype(),
                grad_enabled=torch.is_grad_enabled(), cwd=os.getcwd())


@pytest.fixture(autouse=True)
def _same_process_state():
    """A test that leaves torch's threads, default dtype or grad mode, or the working directory
    changed fails: later tests in the process (any of them, as pytest-xdist deals modules out)
    would compute otherwise, e.g. round otherwise than the tools whose files they compare with."""
    before = process_state()
    yield
    after = process_state()
    if after != before:
        torch.set_num_threads(before['torch_threads'])
        torch.set_default_dtype(before['default_dtype'])
        torch.set_grad_enabled(before['grad_enabled'])
        os.chdir(before['cwd'])
        changed = {k: (before[k], v) for k, v in after.items() if v != before[k]}
        pytest.fail(f'the test left the process changed (before, after): {changed}')


@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> str:
    """An empty $WSSS_WEIGHTS_DIR, and torch hub's download cache moved to an empty tmp dir."""
    folder = tmp_path / 'weights'
    folder.mkdir()
    monkeypatch.setenv('WSSS_WEIGHTS_DIR', str(folder))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('no_proxy', '*')  # test downloads go to 127.0.0.1 only, never a proxy
    return str(folder)


def closed_port_url(file_name: str) -> str:
    """A URL on 127.0.0.1 that refuses connections: a download fails at once, as offline."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}/{file_name}'


def write_image(path: str, h: int, w: int, seed: int = 0) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def voc_xml(objects: List[str]) -> str:
    body = ''.join(f'<object><name>{o}</name><difficult>0</difficult></object>' for o in objects)
    return f'<annotation>{body}</annotation>'


# name -> (split, mask, XML objects). The XML of img_b also lists a bottle the mask lacks, as
# happens for tiny or difficult objects.
def voc_masks() -> Dict[str, tuple]:
    a = np.zeros((6, 8), np.uint8)
    a[1:4, 1:4] = VOC['cat']
    a[2:5, 5:7] = VOC['person']
    a[0, :] = 255
    b = np.zeros((6, 8), np.uint8)
    b[2:6, 0:5] = VOC['dog']
    c = np.zeros((6, 8), np.uint8)
    return {'img_a': ('train', a, ['cat', 'person']),
            'img_b': ('train', b, ['dog', 'bottle']),
            'img_c': ('val', c, [])}


@pytest.fixture
def voc_root(tmp_path) -> str:
    root = str(tmp_path / 'VOC2012')
    splits: Dict[str, List[str]] = {}
    for i, (name, (split, mask, objects)) in enumerate(voc_masks().items()):
        write_image(osp.join(root, 'JPEGImages', name + '.jpg'), *mask.shape, seed=i)
        write_label_map(osp.join(root, 'SegmentationClass', name + '.png'), mask)
        os.makedirs(osp.join(root, 'Annotations'), exist_ok=True)
        with open(osp.join(root, 'Annotations', name + '.xml'), 'w') as f:
            f.write(voc_xml(objects))
        splits.setdefault(split, []).append(name)
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'))
    for split, names in splits.items():
        with open(osp.join(root, 'ImageSets', 'Segmentation', split + '.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return root


def coco_category_ids() -> Dict[str, int]:
    """COCO-like category ids with gaps (1..90 in the real file)."""
    return {name: i + 1 + i // 10 for i, name in enumerate(COCO14_CLASSES)}


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def _uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.astype(np.uint8).flatten(order='F')
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return {'counts': counts, 'size': list(mask.shape)}


def coco_expected() -> Dict[str, dict]:
    """Hand-made expectations of the tiny COCO tree, by image file stem."""
    person = np.zeros((8, 10), np.uint8)
    person[2:6, 2:8] = 1          # polygon (2,2)-(8,6), a 6x4 rectangle
    dog = np.zeros((8, 10), np.uint8)
    dog[3:5, 6:10] = 1            # RLE, smaller: wins the overlap
    crowd_car = np.zeros((8, 10), np.uint8)
    crowd_car[0:4, 0:10] = 1      # crowd, uncompressed RLE
    gt1 = np.zeros((8, 10), np.uint8)
    gt1[person == 1] = COCO['person']
    gt1[dog == 1] = COCO['dog']
    return {
        'COCO_train2014_000000000001': dict(
            id=1, labels=[COCO['person'], COCO['dog']], gt=gt1,
            anns=[('person', dict(segmentation=[[2, 2, 8, 2, 8, 6, 2, 6]], area=24.0,
                                  iscrowd=0)),
                  ('dog', dict(segmentation=_rle(dog), area=8.0, iscrowd=0))]),
        'COCO_train2014_000000000002': dict(
            id=2, labels=[COCO['car']], gt=crowd_car * COCO['car'],
            anns=[('car', dict(segmentation=_uncompressed_rle(crowd_car), area=40.0,
                               iscrowd=1))]),
        'COCO_train2014_000000000003': dict(id=3, labels=[], gt=np.zeros((8, 10), np.uint8),
                                            anns=[]),
    }


@pytest.fixture
def coco_root(tmp_path) -> str:
    root = str(tmp_path / 'coco2014')
    cats = coco_category_ids()
    images, annotations = [], []
    for stem, exp in coco_expected().items():
        write_image(osp.join(root, 'train2014', stem + '.jpg'), 8, 10, seed=exp['id'])
        images.append(dict(id=exp['id'], file_name=stem + '.jpg', height=8, width=10))
        for name, ann in exp['anns']:
            annotations.append(dict(ann, id=len(annotations) + 1, image_id=exp['id'],
                                    category_id=cats[name], bbox=[0, 0, 1, 1]))
    os.makedirs(osp.join(root, 'annotations'))
    # categories deliberately out of id order: the loader sorts them
    categories = [dict(id=i, name=n, supercategory='x') for n, i in reversed(cats.items())]
    with open(osp.join(root, 'annotations', 'instances_train2014.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return root


def run_tool(*args: str, env: dict = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from the repository root; output captured as text."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def hold_options(hold_file: str, iters: int, prefix: str = '') -> List[str]:
    """``--cfg-options`` that hold a tool's test loop after ``iters`` iterations while
    ``hold_file`` exists (tests/hold_hook.py); ``prefix``: a pipeline step's
    (``steps.NAME.cfg_options.``)."""
    return [f'{prefix}custom_imports.imports=[hold_hook]',
            f'{prefix}default_hooks.hold.type=HoldAfterIters',
            f'{prefix}default_hooks.hold.iters={iters}',
            f'{prefix}default_hooks.hold.while_file={hold_file}']


def wait_for_seeds(proc: subprocess.Popen, seed_dir: str, count: int,
                   timeout: float = 600) -> None:
    """Return once ``seed_dir`` holds ``count`` seeds (each renamed into place after its
    confidence PNG), ``proc`` has ended, or ``timeout`` seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if osp.isdir(seed_dir) and sum(n.endswith('.png') and not n.endswith('_conf.png')
                                       for n in os.listdir(seed_dir)) >= count:
            return
        time.sleep(0.02)


def kill_when_written(cmd: List[str], seed_dir: str, count: int, hold_file: str,
                      cwd: str = ROOT, env: dict = None, group: bool = False,
                      timeout: float = 600) -> None:
    """Start ``cmd``, which :func:`hold_options` (``hold_file``) holds after ``count`` or more
    images, and SIGKILL it once ``seed_dir`` holds ``count`` seeds (:func:`wait_for_seeds`):
    held, it can neither finish nor write past the hold before the kill, however slow this
    machine is. ``hold_file`` is gone afterwards, so that a rerun of
    the same command is not held. ``group``: kill its whole process group (the tools a
    pipeline started), else the process alone (its workers must then end by themselves)."""
    os.makedirs(osp.dirname(hold_file), exist_ok=True)
    open(hold_file, 'w').close()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=group)
    try:
        wait_for_seeds(proc, seed_dir, count, timeout)
        with suppress(ProcessLookupError):  # it ended already: said below
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
    finally:
        proc.wait()
        os.remove(hold_file)
    assert proc.returncode == -signal.SIGKILL, 'the run finished before it could be killed'


def run_tool_here(monkeypatch, script: str, *args: str) -> Union[int, str]:
    """A tool of tools/ in this process (its imports are done: seconds, not a minute); its exit
    code, or the message it exits with."""
    monkeypatch.setattr(sys, 'argv', [script, *args])
    try:
        runpy.run_path(osp.join(ROOT, 'tools', script), run_name='__main__')
    except SystemExit as e:
        return 0 if e.code is None else e.code
    return 0


@pytest.fixture
def tool_here(monkeypatch, capsys):
    """:func:`run_tool` in this process, for tools whose start (imports) would cost more than
    their work: ``tool_here('tools/x.py', *args)`` gives the exit code and the printed text."""
    def run(script: str, *args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        monkeypatch.chdir(ROOT)
        code = run_tool_here(monkeypatch, osp.relpath(osp.join(ROOT, script),
                                                      osp.join(ROOT, 'tools')), *args)
        out = capsys.readouterr()
        if isinstance(code, str):  # sys.exit(message): the message on stderr, status 1
            return subprocess.CompletedProcess([script, *args], 1, out.out, out.err + code)
        return subprocess.CompletedProcess([script, *args], code, out.out, out.err)
    return run
