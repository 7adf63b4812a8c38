# Relevancy seeds on VOC 2012 train_aug (10,582 images), the usual stage-two training set.
# Published: none.
_base_ = './relevancy_vit-b16_sam-vit-h_voc12-train.py'
test_dataloader = dict(dataset=dict(split='train_aug'))
