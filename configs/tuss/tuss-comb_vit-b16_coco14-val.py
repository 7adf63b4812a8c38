# TUSS on new images (`comb_lp_probe`, §5.4-5.5), COCO 2014 val: each mask's probe2 scores and
# inductive LP scores (k̄ = k = 50 nearest train masks in one shared index, rigorous
# normalisation with the degrees of LP's graph, Y* = LP2's seeding scores) combined with
# w_lp = 2, w_probe = 1 (O-T2), all classes, background^α (α = 1).
#   python tools/generate_seeds.py configs/tuss/tuss-comb_vit-b16_coco14-val.py
_base_ = ['./tuss-comb_vit-b16_voc12-val.py']
load_from = 'work_dirs/tuss-probe2_1xb512-240k_coco14-train/iter_240000.pth'
val = 'work_dirs/tuss-zero-shot-ov_vit-b16_coco14-val/seeds'
model = dict(
    num_classes=81, mask_dir='work_dirs/sam_vit-h_fma_coco14-val/sam_masks',
    embeddings_from=val, scores_from=val,
    train_embeddings_from='work_dirs/tuss-zero-shot_vit-b16_coco14-train/seeds',
    train_scores_from='work_dirs/tuss-lp2_vit-b16_coco14-train/seeds')
test_dataloader = dict(dataset=dict(_delete_=True, type='COCO14Dataset',
                                    data_root='data/coco2014', split='val',
                                    pipeline={{_base_.glcc_pipeline}}))
