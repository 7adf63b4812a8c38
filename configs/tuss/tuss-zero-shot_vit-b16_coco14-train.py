# TUSS step 1 (`t_classify`) on COCO 2014 train (82,783 images): the 103-name vocabulary, DBA
# with (A_q + A_k)/2 and residual weights (1, 2). Published figures: none.
_base_ = ['../_base_/models/tuss_vit-b16.py', '../_base_/tuss_runtime.py']
model = dict(dataset='coco14', mask_dir='work_dirs/sam_vit-h_fma_coco14-train/sam_masks',
             seeding=dict(norm=True, bg=dict(method='pow', p=0.3)))  # O-T1, O-T1b
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
