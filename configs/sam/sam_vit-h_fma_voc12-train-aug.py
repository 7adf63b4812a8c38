# SAM ViT-H masks at FMA-WSSS's settings on VOC 2012 train_aug (10,582 images).
_base_ = './sam_vit-h_fma_voc12-train.py'
test_dataloader = dict(dataset=dict(split='train_aug'))
