# FMA-WSSS step 3: coarse seeds. CAM + CAA (1 Sinkhorn round, box threshold 0.4) with the
# classification prompts, scored over the SAM masks (SAMS, background power 0.6).
#   python tools/generate_seeds.py configs/fma_wsss/fma-coarse-seeds_vit-b16_voc12-train-aug.py
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/seed_runtime.py']
load_from = 'work_dirs/fma-cls_vit-b16_1xb16-1800_voc12-train-aug-224/iter_1800.pth'
model = dict(stage='cls', dataset='voc12', box_threshold=0.4, seeder=dict(
    type='SAMSSeeder', bg_power=0.6,
    mask_dir='work_dirs/sam_vit-h_fma_voc12-train-aug/sam_masks'))
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='train_aug'))
