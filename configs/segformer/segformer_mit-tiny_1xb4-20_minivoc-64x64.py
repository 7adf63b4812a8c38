# Smoke config: a one-layer-per-stage MiT SegFormer, random init, on the mini VOC tree (CPU,
# seconds).
_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/mini_voc.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_tiny.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(embed_dims=8, num_layers=[1, 1, 1, 1]),  # stage widths 8·heads
    decode_head=dict(in_channels=[8, 16, 40, 64], channels=16, norm_cfg=norm_cfg))
