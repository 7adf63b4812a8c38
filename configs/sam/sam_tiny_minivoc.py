# Instant test: SAM mask generation through every code path with a tiny randomly initialised SAM
# on the mini VOC tree (python -m wsss.datasets.synthetic data/mini_voc). Seconds on a CPU; its
# masks mean nothing.
_base_ = ['./sam_vit-h_fma_voc12-train.py', '../_base_/models/sam_tiny.py']
randomness = dict(seed=0)  # the random weights, hence the masks, are the same on every run
model = dict(
    sam=dict(checkpoint=None, model_cfg={{_base_.tiny_sam}}),
    # Random weights predict IoUs near 0 and logits near 0: these thresholds let masks through.
    generator=dict(points_per_side=8, crop_n_layers=0, pred_iou_thresh=0.02,
                   stability_score_thresh=0.5, stability_score_offset=0.005,
                   min_mask_region_area=10))
test_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(data_root='data/mini_voc'))
