# TUSS probe2 seeds on COCO 2014 train: the trained probe classifies every mask with its image's
# labels (val/iter-final); seeds and scores S4, P4: the final WSSS seeds (§5.6, O-T2).
#   python tools/generate_seeds.py configs/tuss/tuss-probe2-seeds_vit-b16_coco14-train.py
_base_ = ['../_base_/models/tuss_probe.py', '../_base_/tuss_runtime.py']
load_from = 'work_dirs/tuss-probe2_1xb512-240k_coco14-train/iter_240000.pth'
zero_shot = 'work_dirs/tuss-zero-shot_vit-b16_coco14-train/seeds'
previous = 'work_dirs/tuss-lp2_vit-b16_coco14-train/seeds'
model = dict(num_classes=81, mask_dir='work_dirs/sam_vit-h_fma_coco14-train/sam_masks',
             embeddings_from=zero_shot, scores_from=previous)
test_dataloader = dict(dataset=dict(
    type='COCO14Dataset', data_root='data/coco2014', split='train',
    pipeline={{_base_.glcc_pipeline}}))
