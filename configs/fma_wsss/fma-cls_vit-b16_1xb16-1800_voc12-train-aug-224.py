# FMA-WSSS step 2: classification prompts (shared context, name at the end, the 25 background
# words) trained with the multi-label contrastive loss on VOC train_aug, 1,800 iterations.
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/datasets/fma_train.py',
          '../_base_/schedules/fma_prompts.py', '../_base_/default_runtime.py']
model = dict(stage='cls', dataset='voc12')
train_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                     split='train_aug', pipeline={{_base_.image_pipeline}}))
