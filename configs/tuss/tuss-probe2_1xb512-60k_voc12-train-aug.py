# TUSS probe2 on VOC 2012 train_aug: the cosine linear probe trained on softmax(100·P) of every
# mask, area-weighted (§5.2); iteration factor 1 (60k iterations; the official VOC ws value,
# O-T3).
#   python tools/train.py configs/tuss/tuss-probe2_1xb512-60k_voc12-train-aug.py
#   bash tools/dist_train.sh configs/tuss/tuss-probe2_1xb512-60k_voc12-train-aug.py 8
_base_ = ['../_base_/models/tuss_probe.py', '../_base_/schedules/tuss_probe.py',
          '../_base_/default_runtime.py']
# warm-up 6000, then cosine to 0 at iteration 60000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.02, end_factor=1., begin=0, end=6000,
         by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=54000, eta_min=0., begin=6000, end=60000,
         by_epoch=False),
]
train_cfg = dict(max_iters=60000)
model = dict(num_classes=21)
zero_shot = 'work_dirs/tuss-zero-shot_vit-b16_voc12-train-aug/seeds'
previous = 'work_dirs/tuss-lp2_vit-b16_voc12-train-aug/seeds'
train_dataloader = dict(dataset=dict(embeddings_from=zero_shot, scores_from=previous))
