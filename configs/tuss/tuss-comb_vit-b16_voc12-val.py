# TUSS on new images (`comb_lp_probe`, §5.4-5.5), VOC 2012 val: each mask's probe2 scores and
# inductive LP scores (k̄ = k = 50 nearest train_aug masks, rigorous normalisation, Y* = LP2's
# seeding scores) combined with w_lp = 2, w_probe = 1 (O-T2), all classes, background^α (α = 1).
_base_ = ['../_base_/models/tuss_probe.py', '../_base_/tuss_runtime.py']
load_from = 'work_dirs/tuss-probe2_1xb512-60k_voc12-train-aug/iter_60000.pth'
val = 'work_dirs/tuss-zero-shot-ov_vit-b16_voc12-val/seeds'
model = dict(
    type='TUSSCombinationModel', mask_dir='work_dirs/sam_vit-h_fma_voc12-val/sam_masks',
    embeddings_from=val, scores_from=val,
    train_embeddings_from='work_dirs/tuss-zero-shot_vit-b16_voc12-train-aug/seeds',
    train_scores_from='work_dirs/tuss-lp2_vit-b16_voc12-train-aug/seeds',
    k_bar=50, k=50, gamma=1., w_lp=2., w_probe=1.,
    probe_seeding=dict(softmax=1., norm=False),
    lp_seeding=dict(L1=True, norm=False, bg=dict(method='alpha_bg', alpha=1.)),
    # no softmax: the base config's probe seeding (softmax 1) must not reach the combination
    seeding=dict(softmax=None, L1=True, norm=False, bg=dict(method='alpha_bg', alpha=1.)))
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='val', pipeline={{_base_.glcc_pipeline}}))
