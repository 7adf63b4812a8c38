# FMA-WSSS on VOC 2012, end to end: SAM ViT-H masks of train_aug, classification prompts (1,800
# iterations), coarse seeds, segmentation prompts (17,000), fine seeds (published 73.9 mIoU on
# train_aug), then DeepLabV3+ R-101-D8 (40k) on the fine seeds, evaluated on val.
#   python tools/run_pipeline.py configs/pipelines/fma-wsss_vit-b16_voc12.py --gpus 8
_fma = 'configs/fma_wsss/fma-{}_voc12-train-aug{}.py'
_stage_two = 'configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12-train-aug-seeds-512x512.py'
steps = dict(
    sam_masks=dict(tool='sam_masks', config='configs/sam/sam_vit-h_fma_voc12-train-aug.py'),
    cls_prompts=dict(tool='train', config=_fma.format('cls_vit-b16_1xb16-1800', '-224')),
    coarse_seeds=dict(tool='seeds', config=_fma.format('coarse-seeds_vit-b16', ''),
                      inputs={'load_from': 'cls_prompts', 'model.seeder.mask_dir': 'sam_masks'}),
    coarse_seed_eval=dict(tool='eval_seeds', seeds='coarse_seeds'),
    seg_prompts=dict(tool='train', config=_fma.format('seg_vit-b16_1xb16-17000', '-224'),
                     inputs={'train_dataloader.dataset.seed_dir': 'coarse_seeds'}),
    fine_seeds=dict(tool='seeds', config=_fma.format('fine-seeds_vit-b16', ''),
                    inputs={'load_from': 'seg_prompts', 'model.seeder.mask_dir': 'sam_masks'}),
    fine_seed_eval=dict(tool='eval_seeds', seeds='fine_seeds'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'fine_seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'}),
)
