# TUSS open-vocabulary (ov, §6) mask labels on VOC 2012 val: no image labels, every class, the
# vocabulary ['background'] + names under the origami template, softmax, background^α (α = 1/16,
# model.open_vocabulary), no min-max across masks; also the embedding step of new images for the
# combination (tuss-comb_*). SAM masks of val:
# tools/sam_masks.py configs/sam/sam_vit-h_fma_voc12-train.py --cfg-options
# test_dataloader.dataset.split=val --mask-dir work_dirs/sam_vit-h_fma_voc12-val/sam_masks
_base_ = ['./tuss-zero-shot_vit-b16_voc12-train-aug.py']
model = dict(supervision='ov', mask_dir='work_dirs/sam_vit-h_fma_voc12-val/sam_masks')
test_dataloader = dict(dataset=dict(split='val'))
