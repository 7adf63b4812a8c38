# FMA-WSSS step 4: segmentation prompts (shared context, name at the end, the 23 background
# words) trained with the CAM activation loss against the coarse seeds; as released for COCO, a
# crop's labels are the whole image's labels (FMA_RELEASED). The released COCO schedule: 1,000
# iterations at 1e-5, then cosine to 0 at 75,000; the released fine seeds use the checkpoint of
# iteration 45,000, so training stops there (train_cfg.max_iters=75000 runs it all).
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/datasets/fma_train.py',
          '../_base_/schedules/fma_prompts.py', '../_base_/default_runtime.py']
model = dict(stage='seg', dataset='coco14', box_threshold=0.5)
schedule_iters, warmup_iters = 75000, 1000
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=warmup_iters, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0, T_max=schedule_iters - warmup_iters,
         begin=warmup_iters, end=schedule_iters, by_epoch=False),
]
train_cfg = dict(max_iters=45000)
train_dataloader = dict(dataset=dict(
    type='PseudoLabelDataset',
    seed_dir='work_dirs/fma-coarse-seeds_vit-b16_coco14-train/seeds',
    dataset=dict(type='COCO14Dataset', data_root='data/coco2014', split='train'),
    pipeline={{_base_.coco_seed_pipeline}}))
