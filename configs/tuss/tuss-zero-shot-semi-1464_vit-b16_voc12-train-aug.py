# TUSS with semi supervision (§6) on VOC 2012 train_aug: the 1,464 images of VOC train are
# labelled (their masks' GT vote fractions), the other 9,118 get open-vocabulary zero-shot
# scores over all classes. Then LP with semi_balance (tuss-lp1-semi_*), the probe on GT +
# softmax(100·LP), and the combination on new images.
_base_ = ['./tuss-zero-shot_vit-b16_voc12-train-aug.py']
model = dict(supervision='semi',
             labelled='data/VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt')
