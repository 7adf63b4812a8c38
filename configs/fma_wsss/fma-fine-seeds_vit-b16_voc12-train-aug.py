# FMA-WSSS step 5: fine seeds with the segmentation prompts; as released, CAA (box threshold 0.5)
# refines the raw CAM, which goes raw to SAMS (ReLU inside), background power 0.7.
# Published: 73.9 mIoU on VOC train_aug (authors' rerun).
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/seed_runtime.py']
load_from = 'work_dirs/fma-seg_vit-b16_1xb16-17000_voc12-train-aug-224/iter_17000.pth'
model = dict(stage='seg', dataset='voc12', box_threshold=0.5, seeder=dict(
    type='SAMSSeeder', bg_power=0.7,
    mask_dir='work_dirs/sam_vit-h_fma_voc12-train-aug/sam_masks'))
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='train_aug'))
