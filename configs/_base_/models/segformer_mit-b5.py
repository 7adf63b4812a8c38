# SegFormer MiT-B5 (MiT-B2's widths, deeper), initialised from mmseg's ImageNet-pretrained MiT-B5.
_base_ = './segformer_mit-b2.py'
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth'  # noqa
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        num_layers=[3, 6, 40, 3]))
