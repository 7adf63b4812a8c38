# TUSS probe2 on VOC 2012 train_aug: probe1's recipe (cosine linear probe on softmax(100·P) of
# every mask, area-weighted, 60k iterations) trained on LP2's scores.
#   python tools/train.py configs/tuss/tuss-probe2_1xb512-60k_voc12-train-aug.py
#   bash tools/dist_train.sh configs/tuss/tuss-probe2_1xb512-60k_voc12-train-aug.py 8
_base_ = './tuss-probe1_1xb512-60k_voc12-train-aug.py'
train_dataloader = dict(dataset=dict(
    scores_from='work_dirs/tuss-lp2_vit-b16_voc12-train-aug/seeds'))
