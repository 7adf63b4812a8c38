# FMA-WSSS step 2: classification prompts (shared context, name at the end, the 23 background
# words) trained with the multi-label contrastive loss on COCO train. The released COCO schedule:
# 1,000 iterations at 1e-5, then cosine to 0 at 20,500; the released coarse seeds use the
# checkpoint of iteration 6,150, so training stops there (train_cfg.max_iters=20500 runs it all).
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/datasets/fma_train.py',
          '../_base_/schedules/fma_prompts.py', '../_base_/default_runtime.py']
model = dict(stage='cls', dataset='coco14')
train_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                     split='train', pipeline={{_base_.coco_image_pipeline}}))
schedule_iters, warmup_iters = 20500, 1000
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=warmup_iters, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0, T_max=schedule_iters - warmup_iters,
         begin=warmup_iters, end=schedule_iters, by_epoch=False),
]
train_cfg = dict(max_iters=6150)
