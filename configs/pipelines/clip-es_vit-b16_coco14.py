# CLIP-ES on COCO 2014, end to end: training-free seeds of train (CAM + CAA + dense CRF, CGL
# ignores in the seeds), then DeepLabV2 R-101 (80k) on them, evaluated on val
# (published 45.4).
#   python tools/run_pipeline.py configs/pipelines/clip-es_vit-b16_coco14.py --gpus 8
_stage_two = 'configs/deeplabv2/deeplabv2_r101-d8_4xb4-80k_coco14-train-seeds-512x512.py'
steps = dict(
    seeds=dict(tool='seeds', config='configs/clip_es/clip-es_vit-b16_crf_coco14-train.py'),
    seed_eval=dict(tool='eval_seeds', seeds='seeds'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'}),
)
