# Instant test of the TUSS probe's training on the mini VOC tree's mask store (tiny CLIP: D = 32):
# 20 iterations of 16 masks, 2 of warm-up.
_base_ = ['./tuss-probe1_1xb512-60k_voc12-train-aug.py']
model = dict(embed_dim=32)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.02, end_factor=1., begin=0, end=2,
         by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=18, eta_min=0., begin=2, end=20, by_epoch=False),
]
train_cfg = dict(max_iters=20)
train_dataloader = dict(batch_size=16, dataset=dict(
    embeddings_from='work_dirs/tuss-zero-shot_vit-tiny_minivoc/seeds',
    scores_from='work_dirs/tuss-lp_tiny_minivoc/seeds'))
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10))
