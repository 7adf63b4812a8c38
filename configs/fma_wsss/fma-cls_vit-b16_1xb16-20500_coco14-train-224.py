# FMA-WSSS step 2: classification prompts (shared context, name at the end, the 23 background
# words) trained with the multi-label contrastive loss on COCO train, 20,500 iterations.
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/datasets/fma_train.py',
          '../_base_/schedules/fma_prompts.py', '../_base_/default_runtime.py']
model = dict(stage='cls', dataset='coco14')
train_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                     split='train', pipeline={{_base_.image_pipeline}}))
max_iters = 20500
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=500, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0, begin=500, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters)
