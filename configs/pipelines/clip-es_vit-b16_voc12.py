# CLIP-ES on VOC 2012, end to end: training-free seeds of train_aug (CAM + CAA + dense CRF, CGL
# ignores in the seeds; published 68.7 mIoU), then DeepLabV2 R-101 (20k) on them, evaluated on
# val (published 71.1 with an ImageNet-pretrained DeepLabV2).
#   python tools/run_pipeline.py configs/pipelines/clip-es_vit-b16_voc12.py --gpus 8
_stage_two = 'configs/deeplabv2/deeplabv2_r101-d8_4xb4-20k_voc12-train-aug-seeds-512x512.py'
steps = dict(
    seeds=dict(tool='seeds', config='configs/clip_es/clip-es_vit-b16_crf_voc12-train-aug.py'),
    seed_eval=dict(tool='eval_seeds', seeds='seeds'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'}),
)
