# The GLCC probe's schedule (§5.2): SGD lr 0.02, momentum 0.9, no weight decay; linear warm-up
# from 1e-5, then cosine to 0, stepped every iteration; batches of 512 masks shuffled by
# InfiniteSampler (seed 0; the released code draws them with RandomSampler), drop_last. VOC base
# (iteration factor f = 1): 6k warm-up, 60k iterations; a config with factor f divides both
# (COCO-14: 12k warm-up fixed, 120k / f).
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.02, end_factor=1., begin=0, end=6000,
         by_epoch=False),
    dict(type='CosineAnnealingLR', T_max=54000, eta_min=0., begin=6000, end=60000,
         by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60000)
# batch_size is the global batch: GlobalBatchSampler gives each of n GPUs 512 / n masks a step,
# so a multi-GPU run keeps the recipe's 512 masks a step at lr 0.02 and its iteration count
train_dataloader = dict(
    batch_size=512, num_workers=0,
    batch_sampler=dict(type='GlobalBatchSampler', drop_last=True),
    sampler=dict(type='InfiniteSampler', shuffle=True, seed=0),
    dataset=dict(type='MaskEmbeddingDataset', gamma=100.))  # soft labels softmax(100·P) (§5.1)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=500, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# The head's initial weights: nn.Linear's reset under this seed (the released code seeds it with
# hash_str('linear_probe_head'), a hash not reproduced here).
randomness = dict(seed=0)
