# TUSS semi supervision's probe, dual stream (§6): SemiBalanceSampler alternates an unlabelled
# and a labelled mask, so every batch is half labelled (the labelled set repeated).
#   python tools/train.py configs/tuss/tuss-probe-semi-dual_1xb512-120k_voc12-train-aug.py
_base_ = ['./tuss-probe-semi_1xb512-120k_voc12-train-aug.py']
train_dataloader = dict(sampler=dict(_delete_=True, type='SemiBalanceSampler', seed=0))
