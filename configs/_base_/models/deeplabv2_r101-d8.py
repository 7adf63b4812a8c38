# DeepLabV2 for comparison with the WSSS literature: the ImageNet-pretrained ResNet-101-D8 of
# deeplabv3plus_r101-d8.py with DeepLab-v2's ASPP head (the sum of four dilated 3x3 convolutions to
# class logits) and no auxiliary head. Unlike the reference DeepLabV2 (Caffe ResNet-101, frozen BN,
# multi-scale inputs), it uses mmseg's ResNet-V1c and SyncBN.
_base_ = './deeplabv3plus_r101-d8.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPV2Head',
        in_channels=2048,
        in_index=3,
        dilations=(6, 12, 18, 24),
        num_classes=21,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)
