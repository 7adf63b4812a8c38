# TUSS LP1 (P0 of the zero-shot step -> seeds S1, scores P1) on VOC 2012 train_aug
# (docs/tuss.md §5.3): transductive label propagation over the kNN graph of all mask
# embeddings of the split (k = 50, γ = 1, α = 0.9), then per-image seeding.
#   python tools/generate_seeds.py configs/tuss/tuss-lp1_vit-b16_voc12-train-aug.py
_base_ = ['../_base_/models/tuss_lp.py', '../_base_/tuss_runtime.py']
zero_shot = 'work_dirs/tuss-zero-shot_vit-b16_voc12-train-aug/seeds'
previous = 'work_dirs/tuss-zero-shot_vit-b16_voc12-train-aug/seeds'
model = dict(num_classes=21, mask_dir='work_dirs/sam_vit-h_fma_voc12-train-aug/sam_masks',
             embeddings_from=zero_shot, scores_from=previous)
test_dataloader = dict(dataset=dict(
    type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012', split='train_aug',
    pipeline={{_base_.glcc_pipeline}}))
