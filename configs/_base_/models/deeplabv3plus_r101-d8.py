# DeepLabV3+ with an ImageNet-pretrained ResNet-101-V1c (output stride 8), as in mmseg's R-101-D8
# configs.
_base_ = './deeplabv3plus_r50-d8.py'
model = dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101))
