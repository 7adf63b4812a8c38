# Instant test of TUSS step 1 on the mini VOC tree with a tiny random CLIP: every code path of
# the ViT-B/16 config (DBA windows at a smaller scale), seconds on a CPU, numbers meaningless.
_base_ = ['./tuss-zero-shot_vit-b16_voc12-train-aug.py', '../_base_/models/clip_tiny.py']
randomness = dict(seed=0)
model = dict(clip={{_base_.tiny_clip}}, short_side=96, dba=dict(window=64, stride=32),
             mask_dir='work_dirs/sam_tiny_minivoc/sam_masks')
test_dataloader = dict(num_workers=0, dataset=dict(data_root='data/mini_voc', split='train'))
