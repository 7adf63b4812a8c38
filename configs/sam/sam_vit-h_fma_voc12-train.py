# SAM ViT-H automatic masks at FMA-WSSS's settings on VOC 2012 train (1,464 images), for SAMS
# seeds. Weights: https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth; when
# model.sam.checkpoint is not a file, its name is looked for in $WSSS_WEIGHTS_DIR and torch hub's
# cache, and downloaded there if missing (offline: set model.sam.checkpoint to the file).
# vit_l / vit_b work too, with their checkpoints.
_base_ = ['../_base_/sam_runtime.py']
model = dict(
    type='SAMMaskModel',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    sam=dict(model_type='vit_h', checkpoint='checkpoints/sam_vit_h_4b8939.pth'),
    # a longer side is scaled down to 1024 for the generator and the masks scaled back (bounded
    # memory for photos of any size); no VOC or COCO image is touched
    max_long_side=1024,
    generator=dict(
        # segment-anything's "heavy" settings
        points_per_side=32, points_per_batch=256, pred_iou_thresh=0.86,
        stability_score_thresh=0.92, stability_score_offset=1.0, box_nms_thresh=0.7,
        crop_n_layers=1, crop_nms_thresh=0.7, crop_overlap_ratio=512 / 1500,
        crop_n_points_downscale_factor=2, min_mask_region_area=100,
        # FMA-WSSS's level-aware changes, per level (sub-part, part, whole)
        score_thresh_offset=(0.0, 0.0, 0.1), score_nms_offset=(0.0, 0.0, 1.0),
        rock_sand_water_thresh=0.3,
        # speed only: prompts per decoder call, crops per encoder call (the masks do not change
        # beyond float rounding); float32 as released, 'bfloat16' for speed on GPUs
        crop_batch=5, dtype='float32'))
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='train'))
