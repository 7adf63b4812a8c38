# FMA-WSSS on COCO 2014 as configs/pipelines/fma-wsss_vit-b16_coco14.py, plus the released code's
# search of the coarse seeds' background power over {0.3, 0.4, 0.5}. THIS STEP READS THE GROUND
# TRUTH of COCO train: a report of how the released setting was picked, not part of a weakly
# supervised method. The coarse seeds keep their CAMs for it (<work_dir>/coarse_seeds/cams, about
# 1.7 MB an image); the pipeline's seeds keep the configured power (0.4).
_base_ = './fma-wsss_vit-b16_coco14.py'
steps = dict(
    coarse_seeds=dict(save_cams=True),
    coarse_power_search=dict(tool='eval_seeds', seeds='coarse_seeds', sam_masks='sam_masks',
                             powers=[0.3, 0.4, 0.5]),
)
