# FMA-WSSS step 3 on COCO, as released: CAM + CAA (1 Sinkhorn round, affinity squared) on the RAW
# CAM of the classification prompts of iteration 6,150 with box threshold 0.6 (boxes from its
# normalised copy), scored over the SAM masks (SAMS). The released background power was searched
# over {0.3, 0.4, 0.5} against the ground truth; 0.4, the middle of that grid, is taken here
# because a seed config must not read ground truth. The search itself is the optional
# `coarse_power_search` step of configs/pipelines/fma-wsss_vit-b16_coco14.py (it uses GT masks).
#   python tools/generate_seeds.py configs/fma_wsss/fma-coarse-seeds_vit-b16_coco14-train.py
_base_ = ['../_base_/models/fma_vit-b16.py', '../_base_/seed_runtime.py']
load_from = 'work_dirs/fma-cls_vit-b16_1xb16-20500_coco14-train-224/iter_6150.pth'
model = dict(stage='cls', dataset='coco14', box_threshold=0.6, seeder=dict(
    type='SAMSSeeder', bg_power=0.4,
    mask_dir='work_dirs/sam_vit-h_fma_coco14-train/sam_masks'))
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
