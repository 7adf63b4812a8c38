# TUSS open-vocabulary (ov, §6) mask labels on COCO 2014 val: no image labels, every class, the
# ViLD templates over the 103 names, softmax over them, the 80 classes kept, background
# (1 - max)^p, no min-max across masks; also the embedding step of new images for the
# combination (tuss-comb_vit-b16_coco14-val). SAM masks of val:
# tools/sam_masks.py configs/sam/sam_vit-h_fma_coco14-train.py --cfg-options
# test_dataloader.dataset.split=val --mask-dir work_dirs/sam_vit-h_fma_coco14-val/sam_masks
_base_ = ['./tuss-zero-shot_vit-b16_coco14-train.py']
model = dict(supervision='ov', mask_dir='work_dirs/sam_vit-h_fma_coco14-val/sam_masks')
test_dataloader = dict(dataset=dict(split='val'))
