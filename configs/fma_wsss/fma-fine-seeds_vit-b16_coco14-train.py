# FMA-WSSS step 5 on COCO, as released: the raw CAM of the segmentation prompts of iteration
# 45,000, no CAA, SAMS with background power 1. Published: 47.5 mIoU on COCO train.
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/seed_runtime.py']
load_from = 'work_dirs/fma-seg_vit-b16_1xb16-75000_coco14-train-224/iter_45000.pth'
model = dict(stage='seg', dataset='coco14', caa=False, seeder=dict(
    type='SAMSSeeder', bg_power=1.0,
    mask_dir='work_dirs/sam_vit-h_fma_coco14-train/sam_masks'))
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
