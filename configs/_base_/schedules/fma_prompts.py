# Prompt learning: SGD (momentum 0.9, wd 5e-4), lr 1e-3 after 500 iterations at 1e-5, cosine to
# 0; AMP (tools/train.py falls back to fp32 without CUDA). Checkpoints hold only the contexts.
max_iters = 1800
optim_wrapper = dict(type='AmpOptimWrapper',
                     optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=500, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0, begin=500, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
