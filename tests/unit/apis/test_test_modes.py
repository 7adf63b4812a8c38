"""tools/test.py's testing modes: multi-scale + flip (mmseg's SegTTAModel) against a hand-run
average of the views, the dense CRF on predictions (two-region case, ignored GT pixels), and
submission files (--format-only)."""
import os
import os.path as osp
import runpy
import sys
import tarfile

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample
from PIL import Image
from test_crf import needs_crf
from test_crf import two_regions as crf_case

from wsss.apis.test_modes import use_crf, use_format_only, use_tta, without_gt
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.evaluation.prediction_writer import voc_server_dir
from wsss.io.seeds import IGNORE_INDEX, read_label_map
from wsss.models.segmentors.dense_crf_tta import DenseCRFTestModel, seg_probabilities
from wsss.registry import METRICS, MODELS, TRANSFORMS

TINY = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'


def load(path: str) -> Config:
    loaded = Config.fromfile(osp.join(ROOT, path))
    # unformatted: yapf would take seconds a run (fromfile ignores format_python_code)
    return Config(loaded.to_dict(), filename=loaded.filename, format_python_code=False)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> dict:
    """A mini VOC tree (2 val images; a test split of 3 images, one of another size, without
    masks) and a checkpoint of the tiny DeepLabV3+ with random weights that make its prediction
    vary over the image."""
    tmp = tmp_path_factory.mktemp('test_modes')
    root = make_synthetic_voc(str(tmp / 'voc'), (('val', 2), ('test', 2)))
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)).save(
        osp.join(root, 'JPEGImages', 'test_odd.jpg'))
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'test.txt'), 'a') as f:
        f.write('test_odd\n')
    for name in ('test_0000', 'test_0001'):
        os.remove(osp.join(root, 'SegmentationClass', name + '.png'))
    torch.manual_seed(0)
    model = MODELS.build(load(TINY).model)
    model.init_weights()
    for name, p in model.named_parameters():  # no biases, large weights: the input matters
        if 'bias' in name:
            p.data.zero_()
        else:
            p.data.normal_(0, 4.0 if 'conv_seg' in name else 0.4)
    checkpoint = str(tmp / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    return dict(root=root, checkpoint=checkpoint, model=model.eval())


class Capture(Hook):
    """Keeps the data samples the test loop gives the evaluator."""

    def __init__(self) -> None:
        self.samples = []

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.samples.extend(outputs)


def run_test(cfg: Config, tiny: dict, work_dir: str):
    cfg.test_dataloader.dataset.update(data_root=tiny['root'])
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.update(load_from=tiny['checkpoint'], work_dir=work_dir)
    runner = Runner.from_cfg(cfg)
    capture = Capture()
    runner.register_hook(capture)
    metrics = runner.test()
    return metrics, {osp.basename(s.img_path): s for s in capture.samples}


def hand_tta(model, img_path: str, ratios) -> np.ndarray:
    """The mean softmax over the views (ratios x [unflipped, flipped]) built by hand: the
    single-scale test size, times the ratio, flipped; the logits flipped back and resized to
    the image size."""
    bgr = mmcv.imread(img_path)
    base = TRANSFORMS.build(dict(type='Resize', scale=(128, 96), keep_ratio=True))(
        dict(img=bgr))['img']
    total = 0
    for ratio in ratios:
        img = TRANSFORMS.build(dict(type='Resize', scale_factor=ratio, keep_ratio=True))(
            dict(img=base))['img']
        for flip in (False, True):
            view = np.ascontiguousarray(img[:, ::-1] if flip else img)
            x = model.data_preprocessor(
                dict(inputs=[torch.from_numpy(view).permute(2, 0, 1)]), False)['inputs']
            with torch.no_grad():
                logits = model.encode_decode(x, [dict(img_shape=view.shape[:2])])
            if flip:
                logits = logits.flip(-1)
            logits = F.interpolate(logits, size=bgr.shape[:2], mode='bilinear',
                                   align_corners=False)
            total = total + logits[0].softmax(0)
    return (total / (2 * len(ratios))).numpy()


def test_tta_is_the_mean_of_the_flipped_and_rescaled_views(tiny, tmp_path):
    cfg = load(TINY)
    use_tta(cfg)
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module.type == 'EncoderDecoder'
    metrics, samples = run_test(cfg, tiny, str(tmp_path))
    assert set(samples) == {'val_0000.jpg', 'val_0001.jpg'} and 'mIoU' in metrics
    _, single = run_test(load(TINY), tiny, str(tmp_path / 'single'))
    for name, sample in samples.items():
        path = osp.join(tiny['root'], 'JPEGImages', name)
        probs = hand_tta(tiny['model'], path, cfg.img_ratios)
        top2 = np.sort(probs, axis=0)[-2:]
        clear = top2[1] - top2[0] > 1e-4  # pixels where float noise cannot swap the argmax
        assert clear.mean() > 0.99
        pred = sample.pred_sem_seg.data.squeeze().numpy()
        assert pred.shape == probs.shape[1:]
        np.testing.assert_array_equal(pred[clear], probs.argmax(0)[clear])
        assert len(np.unique(pred)) > 1
        # and it is not the single-scale prediction
        assert (pred != single[name].pred_sem_seg.data.squeeze().numpy()).mean() > 0.01


def test_seg_probabilities_by_hand():
    scores = torch.tensor([[[0.6, 0.0]], [[0.2, 0.0]], [[0.2, -0.1]]])  # (3 classes, 1, 2)
    np.testing.assert_allclose(seg_probabilities(scores, 'normalize')[:, 0, 0], [0.6, 0.2, 0.2])
    # a pixel with no score at all stays all zero instead of NaN
    assert torch.all(seg_probabilities(scores, 'normalize')[:, 0, 1] == 0)
    e = np.exp([0.6, 0.2, 0.2])
    np.testing.assert_allclose(seg_probabilities(scores)[:, 0, 0], e / e.sum(), rtol=1e-6)
    with pytest.raises(ValueError, match='crf_model.probs'):
        seg_probabilities(scores, 'sigmoid')


def two_regions(tmp_path):
    """test_crf's two-region image (saved losslessly) and its displaced, speckled prediction as
    logits, the true labels, and a GT with an ignored band."""
    image, probs, truth = crf_case()
    path = str(tmp_path / 'two.png')
    Image.fromarray(image).save(path)
    logits = torch.from_numpy(np.log(probs))
    gt = truth.copy()
    gt[:, 26:30] = IGNORE_INDEX  # the displaced strip itself is not scored
    return path, logits, truth, gt


def view(path, logits, gt, flip=False) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(img_path=path, ori_shape=tuple(logits.shape[1:]),
                                         flip=flip))
    sample.seg_logits = PixelData(data=logits)
    sample.pred_sem_seg = PixelData(data=logits.argmax(0, keepdim=True))
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    return sample


def miou(samples) -> float:
    metric = IoUMetric()
    metric.dataset_meta = dict(classes=('a', 'b'))
    metric.process({}, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)['mIoU']


def hand_miou(pred, gt) -> float:
    valid = gt != IGNORE_INDEX
    ious = [((pred == c) & (gt == c) & valid).sum() / (((pred == c) | (gt == c)) & valid).sum()
            for c in (0, 1)]
    return 100 * float(np.mean(ious))


@needs_crf
def test_crf_moves_the_prediction_to_the_image_edge_and_keeps_the_ignored_pixels(tiny, tmp_path):
    path, logits, truth, gt = two_regions(tmp_path)
    model = DenseCRFTestModel(module=tiny['model'], crf=dict(iters=10))
    raw = view(path, logits, gt)
    [refined] = model.merge_preds([[raw]])
    before = raw.pred_sem_seg.data[0].numpy()
    after = refined.pred_sem_seg.data[0].numpy()
    assert after.shape == before.shape
    assert (before != truth).sum() > 32 * 4
    assert (after != truth).sum() < 0.5 * (before != truth).sum()
    assert (after[:, 24:28] == 1).mean() > 0.9  # the strip left of the displaced boundary
    # the GT (its 255 band) goes on to the metric, which leaves the band out
    assert torch.equal(refined.gt_sem_seg.data, raw.gt_sem_seg.data)
    assert miou([refined]) == pytest.approx(hand_miou(after, gt), abs=1e-2)
    assert miou([refined]) > miou([raw]) + 5
    # several views: their probabilities are averaged before the CRF (two equal views: the
    # one-view result)
    [twice] = model.merge_preds([[raw, view(path, logits, gt)]])
    np.testing.assert_array_equal(twice.pred_sem_seg.data[0].numpy(), after)
    with pytest.raises(ValueError, match='crf_model.probs'):
        DenseCRFTestModel(module=tiny['model'], probs='logits')


@needs_crf
def test_tta_and_crf_combine(tiny, tmp_path):
    cfg = load(TINY)
    use_tta(cfg)
    use_crf(cfg, multi_view=True)
    assert cfg.model.type == 'DenseCRFTestModel' and cfg.model.multi_view
    assert cfg.model.module.type == 'EncoderDecoder'
    assert cfg.model.crf == dict(iters=10, gauss_sxy=1, gauss_compat=3, bilateral_sxy=67,
                                 bilateral_srgb=3, bilateral_compat=4)
    metrics, samples = run_test(cfg, tiny, str(tmp_path))
    assert 0 <= metrics['mIoU'] <= 100 and len(samples) == 2
    cfg = load(TINY)
    use_tta(cfg)
    use_crf(cfg, multi_view=True)
    cfg.model.crf.iters = 0  # no mean-field step: the posterior is the mean of the views
    _, unrefined = run_test(cfg, tiny, str(tmp_path / 'iters0'))
    for name, sample in samples.items():
        image = mmcv.imread(osp.join(tiny['root'], 'JPEGImages', name))
        pred = sample.pred_sem_seg.data.squeeze().numpy()
        assert pred.shape == image.shape[:2]
        # the views are averaged as SegTTAModel averages them ...
        probs = hand_tta(tiny['model'], osp.join(tiny['root'], 'JPEGImages', name),
                         cfg.img_ratios)
        top2 = np.sort(probs, axis=0)[-2:]
        clear = top2[1] - top2[0] > 1e-4
        mean_pred = unrefined[name].pred_sem_seg.data.squeeze().numpy()
        np.testing.assert_array_equal(mean_pred[clear], probs.argmax(0)[clear])
        # ... and the CRF changes that prediction
        assert (pred != mean_pred).any()


def test_modes_name_the_missing_setting(tmp_path):
    (tmp_path / 'x.py').write_text("model = dict(type='EncoderDecoder')\n"
                                   'test_dataloader = dict(dataset=dict())\n')
    cfg = Config.fromfile(str(tmp_path / 'x.py'))
    with pytest.raises(ValueError, match='x.py has no tta_pipeline'):
        use_tta(cfg)
    with pytest.raises(ValueError, match='x.py has no crf_model'):
        use_crf(cfg, multi_view=False)


def test_without_gt_drops_the_label_loaders_inside_tta_too():
    cfg = load(TINY)
    assert [t['type'] for t in without_gt(cfg.test_pipeline)] == [
        'LoadImage', 'Resize', 'PackWSSSInputs']
    stages = without_gt(cfg.tta_pipeline)[1]['transforms']
    assert len(stages) == 4 and all(t['type'] != 'LoadLabelMap' for s in stages for t in s)


def test_format_only_writes_the_voc_server_files(tiny, tmp_path, monkeypatch):
    out = str(tmp_path / 'submission')
    # tools/test.py in this process (a subprocess would spend most of its time on imports)
    monkeypatch.setattr(sys, 'argv', [
        'test.py', TINY, tiny['checkpoint'], '--format-only', '--out', out,
        '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={tiny["root"]}', 'test_dataloader.dataset.split=test',
        'test_dataloader.dataset.label_source=none'])
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(osp.join(ROOT, 'tools', 'test.py'), run_name='__main__')
    assert exit_info.value.code == 0
    png_dir = voc_server_dir(out)
    assert png_dir.endswith('results/VOC2012/Segmentation/comp6_test_cls')
    assert sorted(os.listdir(png_dir)) == ['test_0000.png', 'test_0001.png', 'test_odd.png']
    for name in os.listdir(png_dir):
        with Image.open(osp.join(png_dir, name)) as png:
            assert png.mode == 'P'
            assert png.getpalette()[:6] == [0, 0, 0, 128, 0, 0]  # the VOC palette
        image = mmcv.imread(osp.join(tiny['root'], 'JPEGImages', name[:-4] + '.jpg'))
        assert read_label_map(osp.join(png_dir, name)).shape == image.shape[:2]
        assert read_label_map(osp.join(png_dir, name)).max() < 21
    with tarfile.open(osp.join(out, 'results.tgz')) as tar:
        assert sorted(n for n in tar.getnames() if n.endswith('.png')) == [
            'results/VOC2012/Segmentation/comp6_test_cls/' + n for n in sorted(os.listdir(png_dir))]


def test_format_only_elsewhere_writes_flat_pngs(tmp_path):
    cfg = Config(dict(test_dataloader=dict(dataset=dict(type='COCO14Dataset', pipeline=[
        dict(type='LoadImage'), dict(type='LoadLabelMap'), dict(type='PackWSSSInputs')]))))
    use_format_only(cfg, str(tmp_path))
    assert cfg.test_evaluator == dict(type='PredictionWriter', out_dir=str(tmp_path),
                                      layout='flat', failed_file=None, strict=False)
    assert [t['type'] for t in cfg.test_dataloader.dataset.pipeline] == [
        'LoadImage', 'PackWSSSInputs']
    writer = METRICS.build(cfg.test_evaluator)
    sample = SegDataSample(metainfo=dict(img_path='x/COCO_val2014_000000000042.jpg',
                                         img_name='COCO_val2014_000000000042'))
    sample.pred_sem_seg = PixelData(data=torch.full((1, 5, 7), 80))
    writer.process({}, [sample.to_dict()])
    assert writer.compute_metrics(writer.results) == dict(written=1, failed=0)
    label = read_label_map(str(tmp_path / 'COCO_val2014_000000000042.png'))
    assert label.shape == (5, 7) and np.all(label == 80)
