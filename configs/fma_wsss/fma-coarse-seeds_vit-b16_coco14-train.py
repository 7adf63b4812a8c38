# FMA-WSSS step 3: coarse seeds. CAM + CAA (1 Sinkhorn round, box threshold 0.4) with the
# classification prompts, scored over the SAM masks (SAMS, background power 0.6).
#   python tools/generate_seeds.py configs/fma_wsss/fma-coarse-seeds_vit-b16_coco14-train.py
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/seed_runtime.py']
load_from = 'work_dirs/fma-cls_vit-b16_1xb16-20500_coco14-train-224/iter_20500.pth'
model = dict(stage='cls', dataset='coco14', box_threshold=0.4, seeder=dict(
    type='SAMSSeeder', bg_power=0.6,
    mask_dir='work_dirs/sam_vit-h_fma_coco14-train/sam_masks'))
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
