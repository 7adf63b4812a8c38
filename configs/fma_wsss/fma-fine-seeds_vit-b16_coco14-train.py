# FMA-WSSS step 5: fine seeds with the segmentation prompts (CAA box threshold 0.5), SAMS with
# background power 0.7. Published: 47.5 mIoU on COCO train.
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/seed_runtime.py']
load_from = 'work_dirs/fma-seg_vit-b16_1xb16-75000_coco14-train-224/iter_75000.pth'
model = dict(stage='seg', dataset='coco14', box_threshold=0.5, seeder=dict(
    type='SAMSSeeder', bg_power=0.7,
    mask_dir='work_dirs/sam_vit-h_fma_coco14-train/sam_masks'))
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
