# Instant test of TUSS's open-vocabulary mask labels (no image labels, every class) on the mini
# VOC val split: the embedding step of new images for the combination.
_base_ = ['./tuss-zero-shot_vit-tiny_minivoc.py']
model = dict(supervision='ov', mask_dir='work_dirs/sam_tiny_minivoc-val/sam_masks')
test_dataloader = dict(dataset=dict(split='val'))
