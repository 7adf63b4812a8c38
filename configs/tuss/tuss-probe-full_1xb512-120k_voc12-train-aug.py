# TUSS full supervision's probe on VOC 2012 train_aug: trained on every mask's GT vote fractions,
# area-weighted (official fs iteration factor 0.5: 12k warm-up, 120k iterations).
_base_ = ['./tuss-probe1_1xb512-60k_voc12-train-aug.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.02, end_factor=1., begin=0, end=12000,
         by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=108000, eta_min=0., begin=12000, end=120000,
         by_epoch=False),
]
train_cfg = dict(max_iters=120000)
zero_shot = 'work_dirs/tuss-zero-shot-full_vit-b16_voc12-train-aug/seeds'
train_dataloader = dict(dataset=dict(embeddings_from=zero_shot, scores_from=zero_shot))
