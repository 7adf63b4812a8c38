# Smoke config: a one-block-per-stage, 16-channel Swin under a narrow Mask2Former (8 queries, one
# pixel-decoder layer, three decoder layers), random init, on the mini VOC tree (CPU, seconds).
_base_ = [
    '../_base_/models/mask2former_swin-l-in22k-384.py', '../_base_/datasets/mini_voc.py',
    '../_base_/default_runtime.py', '../_base_/schedules/mask2former_80k.py'
]
attn = dict(embed_dims=32, num_heads=4)
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8], window_size=4,
                  pretrain_img_size=64, drop_path_rate=0., init_cfg=None),
    decode_head=dict(
        in_channels=[16, 32, 64, 128],
        feat_channels=32,
        out_channels=32,
        num_queries=8,
        pixel_decoder=dict(
            norm_cfg=dict(type='GN', num_groups=8),
            encoder=dict(num_layers=1, layer_cfg=dict(
                self_attn_cfg=dict(attn, num_points=2),
                ffn_cfg=dict(embed_dims=32, feedforward_channels=64))),
            positional_encoding=dict(num_feats=16)),
        positional_encoding=dict(num_feats=16),
        transformer_decoder=dict(num_layers=3, layer_cfg=dict(
            self_attn_cfg=attn, cross_attn_cfg=attn,
            ffn_cfg=dict(embed_dims=32, feedforward_channels=64))),
        train_cfg=dict(num_points=256)))
train_dataloader = dict(batch_size=2)  # the mini VOC augmentation (64x64 crops)
crf_model = dict(probs='normalize')
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=20, by_epoch=False)]
train_cfg = dict(max_iters=20, val_interval=10)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=10, max_keep_ckpts=2, save_best=None))
