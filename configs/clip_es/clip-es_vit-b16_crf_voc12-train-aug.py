# CLIP-ES + CRF seeds on VOC 2012 train_aug (10,582 images), the usual stage-two training set.
# Published: 68.7 mIoU on train_aug (with CRF).
_base_ = './clip-es_vit-b16_crf_voc12-train.py'
test_dataloader = dict(dataset=dict(split='train_aug'))
