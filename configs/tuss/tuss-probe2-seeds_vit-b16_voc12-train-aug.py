# TUSS probe2 seeds on VOC 2012 train_aug: the trained probe classifies every mask with its
# image's labels (val/iter-final); seeds and scores S4, P4: the final WSSS seeds (§5.6, O-T2).
#   python tools/generate_seeds.py configs/tuss/tuss-probe2-seeds_vit-b16_voc12-train-aug.py
_base_ = ['../_base_/models/tuss_probe.py', '../_base_/tuss_runtime.py']
load_from = 'work_dirs/tuss-probe2_1xb512-60k_voc12-train-aug/iter_60000.pth'
zero_shot = 'work_dirs/tuss-zero-shot_vit-b16_voc12-train-aug/seeds'
previous = 'work_dirs/tuss-lp2_vit-b16_voc12-train-aug/seeds'
model = dict(num_classes=21, mask_dir='work_dirs/sam_vit-h_fma_voc12-train-aug/sam_masks',
             embeddings_from=zero_shot, scores_from=previous)
test_dataloader = dict(dataset=dict(
    type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012', split='train_aug',
    pipeline={{_base_.glcc_pipeline}}))
