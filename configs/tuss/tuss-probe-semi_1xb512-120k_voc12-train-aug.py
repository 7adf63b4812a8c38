# TUSS semi supervision's probe on VOC 2012 train_aug (§6), single stream: the 1,464 labelled
# images' masks train on their GT vote fractions, the others on softmax(100·P) of the semi LP
# (tuss-lp1-semi_*), all in one shuffled stream (InfiniteSampler). Iterations: the VOC semi factor
# is not published; the fs value f = 0.5 (12k warm-up, 120k) is taken, both training on GT.
#   python tools/train.py configs/tuss/tuss-probe-semi_1xb512-120k_voc12-train-aug.py
_base_ = ['./tuss-probe-full_1xb512-120k_voc12-train-aug.py']
train_dataloader = dict(dataset=dict(
    embeddings_from='work_dirs/tuss-zero-shot-semi-1464_vit-b16_voc12-train-aug/seeds',
    scores_from='work_dirs/tuss-lp1-semi_vit-b16_voc12-train-aug/seeds'))
