# TUSS full supervision on VOC 2012 val: the GT-trained probe and inductive LP from the GT vote
# fractions (Y* = GT fractions, k̄ = k = 50), combined (w_lp = 2, w_probe = 1).
_base_ = ['./tuss-comb_vit-b16_voc12-val.py']
load_from = 'work_dirs/tuss-probe-full_1xb512-120k_voc12-train-aug/iter_120000.pth'
train = 'work_dirs/tuss-zero-shot-full_vit-b16_voc12-train-aug/seeds'
model = dict(train_embeddings_from=train, train_scores_from=train)
