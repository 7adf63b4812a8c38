# FMA-WSSS on VOC 2012 as configs/pipelines/fma-wsss_vit-b16_voc12.py, with the clean choices
# instead of the released code's in every stage-one step (README: Fidelity): CAA boxes from
# `cam > threshold` over the whole map, the clean prompt names, the segmentation stage's CAA on
# the normalised CAM; the seed steps with TF32 matrix products on CUDA (README: Performance).
# Not the configuration of the published 73.9.
_base_ = './fma-wsss_vit-b16_voc12.py'
_clean = dict(cfg_options=dict(model=dict(released=False)))
_clean_seeds = dict(cfg_options=dict(model=dict(released=False), tf32=True))
steps = dict(cls_prompts=_clean, coarse_seeds=_clean_seeds, seg_prompts=_clean,
             fine_seeds=_clean_seeds)
