"""The testing modes of ``tools/test.py``, as changes to a stage-two config.

- ``--tta``: multi-scale + flip, mmseg's way: the test dataset takes the config's
  ``tta_pipeline`` (``TestTimeAug``) and the model is wrapped in its ``tta_model`` (mmseg's
  ``SegTTAModel``, which averages the softmax of the views).
- ``--crf``: the model is wrapped in the config's ``crf_model`` (:class:`DenseCRFTestModel`),
  which refines the predicted probabilities with stage one's dense CRF; with ``--tta`` it takes
  the place of ``SegTTAModel`` and refines the average of the views.
- metric files (the default): the test metric is :class:`wsss.evaluation.SegMetric`, which
  writes ``metrics.json`` and ``per_image.csv`` (and with ``--out`` the predictions).
- ``--format-only``: no GT is loaded and no metric computed; the predictions are written as the
  benchmark's files (:class:`wsss.evaluation.PredictionWriter`).
"""
from typing import List, Optional

from mmengine.config import Config, ConfigDict

GT_LOADERS = ('LoadLabelMap', 'LoadAnnotations')
BASE_HINT = 'see configs/_base_/test_time.py and configs/_base_/datasets/voc12_seeds.py'


def _require(cfg: Config, key: str, option: str) -> ConfigDict:
    if key not in cfg:
        raise ValueError(f'config {cfg.filename} has no {key}, which {option} needs ({BASE_HINT})')
    return cfg[key]


def use_tta(cfg: Config) -> None:
    """Multi-scale + flip testing: ``tta_pipeline`` and ``tta_model`` of the config."""
    pipeline = _require(cfg, 'tta_pipeline', '--tta')
    tta_model = _require(cfg, 'tta_model', '--tta')
    cfg.test_dataloader.dataset.pipeline = pipeline
    cfg.model = dict(tta_model, module=cfg.model)


def use_crf(cfg: Config, multi_view: bool) -> None:
    """Dense CRF on the predictions: ``crf_model`` of the config around the segmentor; with
    ``multi_view`` (after :func:`use_tta`) around the segmentor inside the TTA model."""
    crf_model = _require(cfg, 'crf_model', '--crf')
    segmentor = cfg.model['module'] if multi_view else cfg.model
    cfg.model = dict(crf_model, module=segmentor, multi_view=multi_view)


def without_gt(pipeline: List[dict]) -> List[dict]:
    """The pipeline without its GT loaders, inside ``TestTimeAug`` too."""
    kept = []
    for transform in pipeline:
        if transform['type'] in GT_LOADERS:
            continue
        if transform['type'] == 'TestTimeAug':
            stages = [without_gt(stage) for stage in transform['transforms']]
            transform = dict(transform, transforms=[s for s in stages if s])
        kept.append(transform)
    return kept


def use_format_only(cfg: Config, out_dir: str, failed_file: Optional[str] = None,
                    strict: bool = False) -> None:
    """Write the predictions of the test split as submission files into ``out_dir``, loading no
    GT: the VOC server's layout and tar for VOC, palette PNGs for other datasets. An image that
    cannot be decoded skips the model and is listed in ``failed_file`` (``strict``: the first
    stops the job)."""
    dataset = cfg.test_dataloader.dataset
    dataset.pipeline = survive_bad_images(without_gt(dataset.pipeline))
    layout = 'voc12_server' if dataset.type == 'VOC12Dataset' else 'flat'
    cfg.test_evaluator = dict(type='PredictionWriter', out_dir=out_dir, layout=layout,
                              failed_file=failed_file, strict=strict)
    cfg.test_cfg = dict(type='SkipFailedTestLoop')


def survive_bad_images(pipeline: List[dict]) -> List[dict]:
    """``LoadImage(record_errors=True)``, then every transform but the last (the packing) only
    for the images it could decode (``SkipIfFailed``)."""
    if not pipeline or pipeline[0]['type'] != 'LoadImage':
        raise ValueError(f'the test pipeline must start with LoadImage, got {pipeline[:1]}')
    middle = [dict(type='SkipIfFailed', transforms=pipeline[1:-1])] if pipeline[1:-1] else []
    return [dict(pipeline[0], record_errors=True), *middle, pipeline[-1]]


def use_metric_files(cfg: Config, metrics_dir: str, out: Optional[str] = None) -> None:
    """Test with :class:`wsss.evaluation.SegMetric` (mmseg's IoUMetric numbers) writing the
    metric files to ``metrics_dir``, and the predictions to ``out`` when given."""
    evaluator = cfg.test_evaluator
    if evaluator.get('type') not in ('SegMetric', 'IoUMetric') or \
            list(evaluator.get('iou_metrics', ['mIoU'])) != ['mIoU']:
        raise ValueError(f'config {cfg.filename}: test_evaluator {evaluator.get("type")} has no '
                         "metric files; use dict(type='SegMetric')")
    cfg.test_evaluator = dict(type='SegMetric', out_dir=metrics_dir, output_dir=out)

