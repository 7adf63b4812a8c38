# The relevancy seeder on COCO 2014, end to end: training-free seeds of train (CLIP ViT-B/16
# relevancy + TTA, 3 clicks per class, SAM ViT-H; published seed mIoU: none), then DeepLabV3+
# R-101-D8 (80k) on them, evaluated on val (published: none).
#   python tools/run_pipeline.py configs/pipelines/relevancy_vit-b16_coco14.py --gpus 8
_stage_two = 'configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-80k_coco14-train-seeds-512x512.py'
steps = dict(
    seeds=dict(tool='seeds',
               config='configs/relevancy/relevancy_vit-b16_sam-vit-h_coco14-train.py'),
    seed_eval=dict(tool='eval_seeds', seeds='seeds'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'}),
)
