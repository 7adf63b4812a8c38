# Smoke config: a narrow ResNet-18 DeepLabV3+, random init, on the mini VOC tree (CPU, seconds).
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py', '../_base_/datasets/mini_voc.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_tiny.py'
]
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs CUDA; BN also runs under gloo
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(depth=18, stem_channels=16, base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=64, channels=16, c1_in_channels=8, c1_channels=8,
                     dilations=(1, 2, 3, 4), norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=32, channels=8, norm_cfg=norm_cfg))
