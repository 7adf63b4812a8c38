# FMA-WSSS step 4: segmentation prompts (class-specific contexts, name at the front, 25
# learnable background prompts) trained with the CAM activation loss against the coarse seeds,
# 17,000 iterations; a crop's labels are the classes of its cropped seed.
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/datasets/fma_train.py',
          '../_base_/schedules/fma_prompts.py', '../_base_/default_runtime.py']
max_iters = 17000
model = dict(stage='seg', dataset='voc12', box_threshold=0.5)
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=500, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0, begin=500, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters)
train_dataloader = dict(dataset=dict(
    type='PseudoLabelDataset',
    seed_dir='work_dirs/fma-coarse-seeds_vit-b16_voc12-train-aug/seeds',
    dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012', split='train_aug'),
    pipeline={{_base_.seed_pipeline}}))
