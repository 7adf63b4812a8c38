# The quickstart's stage two: the tiny DeepLabV3+ trained for 300 iterations on the mini VOC tree.
_base_ = '../deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=300, by_epoch=False)]
train_cfg = dict(max_iters=300, val_interval=300)
# a checkpoint every 50 iterations: an interrupted demo resumes from the last one; every 4th
# of the 8 validation images drawn to TensorBoard and vis_data/
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=50, max_keep_ckpts=2),
                     visualization=dict(interval=4))
randomness = dict(seed=0)  # the same numbers on every run
