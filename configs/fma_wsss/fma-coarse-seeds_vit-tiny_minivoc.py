# Instant test of FMA-WSSS step 3 (coarse seeds) on the mini VOC tree, with the tiny prompts of
# fma-cls_vit-tiny_1xb4-20_minivoc.py and the tiny SAM masks of configs/sam/sam_tiny_minivoc.py.
_base_ = ['./fma-coarse-seeds_vit-b16_voc12-train-aug.py', '../_base_/models/clip_tiny.py']
randomness = dict(seed=0)
load_from = 'work_dirs/fma-cls_vit-tiny_1xb4-20_minivoc/iter_20.pth'
model = dict(num_attn_layers=2, prompts=dict(n_ctx=4), clip={{_base_.tiny_clip}},
             seeder=dict(mask_dir='work_dirs/sam_tiny_minivoc/sam_masks'))
test_dataloader = dict(batch_size=2, num_workers=0,
                       dataset=dict(data_root='data/mini_voc', split='train'))
