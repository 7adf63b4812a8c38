# TUSS step 1 on VOC 2012 train_aug (10,582 images): mask embeddings and zero-shot seeds S0.
# SAM masks: configs/sam/sam_vit-h_fma_voc12-train-aug.py (TUSS's l2_nmsf_s1_rsw3 settings are
# FMA-WSSS's). Published figures: none (the official code has no logs or tables).
#   python tools/generate_seeds.py configs/tuss/tuss-zero-shot_vit-b16_voc12-train-aug.py
_base_ = ['../_base_/models/tuss_vit-b16.py', '../_base_/tuss_runtime.py']
model = dict(dataset='voc12', mask_dir='work_dirs/sam_vit-h_fma_voc12-train-aug/sam_masks')
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='train_aug'))
