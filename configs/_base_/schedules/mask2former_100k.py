# The Mask2Former recipe of mask2former_80k.py over 100k iterations (FMA-WSSS on COCO).
_base_ = './mask2former_80k.py'
param_scheduler = [
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=100000, by_epoch=False)
]
train_cfg = dict(max_iters=100000)
