"""Looking at results: the report page of one evaluation and of two on the same images (every
picture it references exists; in a headless browser: tests/e2e/test_report_browser.py), the
comparison table of two hand-made metric files, training curves."""
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from wsss.analysis.compare import as_csv, as_markdown, as_text, compare_runs
from wsss.analysis.logs import plot_logs, read_log
from wsss.analysis.report import build_report
from wsss.evaluation import SegStats, write_metrics
from wsss.io.seeds import write_label_map

CLASSES = ('background', 'cat', 'dog')
SIZES = dict(portrait=(20, 12), landscape=(12, 20), square=(16, 16))  # (h, w)


def make_run(root: str, name: str, shift: int) -> str:
    """An evaluation of 3 coloured images: the GT is a cat or dog square; the prediction is the
    GT moved ``shift`` pixels to the right, so that runs and images differ in mIoU."""
    stats, paths = SegStats(3), {}
    pred_dir = osp.join(root, name, 'seeds')
    rng = np.random.default_rng(0)
    for k, (image, (h, w)) in enumerate(SIZES.items()):
        img_path = osp.join(root, 'images', image + '.jpg')
        gt_path = osp.join(root, 'gt', image + '.png')
        if not osp.isfile(img_path):
            os.makedirs(osp.dirname(img_path), exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(img_path)
        gt = np.zeros((h, w), np.uint8)
        gt[4:10, 3:9] = 1 + k % 2
        gt[0, 0] = 255
        write_label_map(gt_path, gt)
        pred = np.roll(gt, shift * (k + 1), axis=1)
        pred[pred == 255] = 0
        write_label_map(osp.join(pred_dir, image + '.png'), pred)
        stats.update(pred, gt, image)
        paths[image] = (img_path, gt_path)
    out = osp.join(root, name, 'eval')
    write_metrics(out, stats, CLASSES, 'seeds', predictions=pred_dir, image_paths=paths)
    return out


def referenced_files(page: str) -> list:
    with open(page, encoding='utf-8') as f:
        text = f.read()
    assert 'http://' not in text and 'https://' not in text and '<script' not in text
    return re.findall(r'src="([^"]+)"', text)


def test_report_of_one_run_and_of_two(tmp_path):
    coarse = make_run(str(tmp_path), 'coarse', 2)
    fine = make_run(str(tmp_path), 'fine', 1)
    one = build_report([coarse], str(tmp_path / 'one'), images=2)
    two = build_report([coarse, fine], str(tmp_path / 'two'), names=['coarse', 'fine'], images=2)
    for page, runs in ((one, 1), (two, 2)):
        sources = referenced_files(page)
        # IoU bars, precision/recall, a confusion matrix per run; gallery: worst and best
        # (2 + 1 of 3 images) and, for two runs, the 2 that changed most; each row the image,
        # the GT and a prediction per run
        rows = 3 + (2 if runs == 2 else 0)
        assert len(sources) == 2 + runs + rows * (2 + runs)
        for src in sources:
            assert not osp.isabs(src)
            assert osp.isfile(osp.join(osp.dirname(page), src)), src
    with open(two, encoding='utf-8') as f:
        text = f.read()
    assert 'largest changes, coarse to fine' in text
    # the first run's worst image first: the square, moved off its GT, then the landscape
    # (moved 4 of 6 pixels); its best: the portrait (moved 2)
    assert re.findall(r'<h4>(\w+)</h4>', text)[:3] == ['square', 'landscape', 'portrait']
    with Image.open(osp.join(osp.dirname(two), 'img', 'g0_img.png')) as thumb:
        assert thumb.height == 120


def metrics_file(path, ious, miou, classes=CLASSES) -> str:
    """A hand-made metrics.json of three classes (dog never seen: None)."""
    per_class = {name: dict(iou=v, precision=v, recall=v) for name, v in zip(classes, ious)}
    os.makedirs(path, exist_ok=True)
    with open(osp.join(path, 'metrics.json'), 'w') as f:
        json.dump(dict(mIoU=miou, aAcc=90.0, mAcc=None, per_class=per_class,
                       classes=list(classes)), f)
    return str(path)


def test_compare_runs_of_two_hand_made_metric_files(tmp_path):
    a = metrics_file(tmp_path / 'clip_es', [80.0, 60.5, None], 70.25)
    b = metrics_file(tmp_path / 'fma', [82.5, 58.0, None], 70.25)
    rows = compare_runs([a, b])
    assert rows[0] == ['class', 'clip_es', 'fma', 'fma - clip_es']
    assert rows[1] == ['background', '80.00', '82.50', '+2.50']
    assert rows[2] == ['cat', '60.50', '58.00', '-2.50']
    assert rows[3] == ['dog', '', '', '']
    assert rows[4] == ['mIoU', '70.25', '70.25', '+0.00'] and rows[6][0] == 'mAcc'
    assert as_csv(rows).splitlines()[2] == 'cat,60.50,58.00,-2.50'
    markdown = as_markdown(rows).splitlines()
    assert markdown[1] == '| --- | ---: | ---: | ---: |'
    assert markdown[3] == '| cat | 60.50 | 58.00 | -2.50 |'
    assert as_text(rows).splitlines()[3].split() == ['cat', '|', '60.50', '|', '58.00', '|',
                                                     '-2.50']
    other = metrics_file(tmp_path / 'other', [1.0, 2.0, 3.0], 2.0, ('background', 'cat', 'car'))
    with pytest.raises(ValueError, match='other classes'):
        compare_runs([a, other])


def test_plot_logs_reads_a_resumed_run_as_one_curve(tmp_path):
    for stamp, lines in (('20260101_000000', [dict(loss=2.0, lr=0.01, iter=5, step=5),
                                             dict(loss=1.5, lr=0.008, iter=10, step=10)]),
                         ('20260101_010000', [dict(loss=1.0, lr=0.006, iter=15, step=15),
                                             dict(mIoU=12.5, aAcc=80.0, step=15)])):
        folder = tmp_path / 'work' / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / f'{stamp}.json').write_text('\n'.join(json.dumps(r) for r in lines) + '\n')
    log = read_log(str(tmp_path / 'work'))
    assert log['loss'] == ([5, 10, 15], [2.0, 1.5, 1.0])
    assert log['mIoU'] == ([15], [12.5])
    out = str(tmp_path / 'curves.png')
    assert plot_logs([str(tmp_path / 'work')], ['loss', 'lr', 'mIoU', 'nothing'], out) == [
        'loss', 'lr', 'mIoU']
    with Image.open(out) as img:
        assert img.width > img.height
    with pytest.raises(ValueError, match=r"none of \['x'\]"):
        plot_logs([str(tmp_path / 'work')], ['x'], out)
