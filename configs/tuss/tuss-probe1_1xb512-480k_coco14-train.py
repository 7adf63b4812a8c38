# TUSS probe1 on COCO 2014 train: the cosine linear probe trained on softmax(100·P) of every mask,
# area-weighted (§5.2); iteration factor 0.25 (480k iterations; official).
#   python tools/train.py configs/tuss/tuss-probe1_1xb512-480k_coco14-train.py
#   bash tools/dist_train.sh configs/tuss/tuss-probe1_1xb512-480k_coco14-train.py 8
_base_ = ['../_base_/models/tuss_probe.py', '../_base_/schedules/tuss_probe.py',
          '../_base_/default_runtime.py']
# warm-up 12000 (fixed on COCO-14), then cosine to 0 at iteration 480000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.02, end_factor=1., begin=0, end=12000,
         by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=468000, eta_min=0., begin=12000, end=480000,
         by_epoch=False),
]
train_cfg = dict(max_iters=480000)
model = dict(num_classes=81)
zero_shot = 'work_dirs/tuss-zero-shot_vit-b16_coco14-train/seeds'
previous = 'work_dirs/tuss-lp1_vit-b16_coco14-train/seeds'
train_dataloader = dict(dataset=dict(embeddings_from=zero_shot, scores_from=previous))
