# SAM mask generation runs mmengine's test loop: tools/sam_masks.py fills in mask_dir (default
# work_dirs/<config>/sam_masks) in the sampler's out_files and in the writer below.
_base_ = './default_runtime.py'
test_cfg = dict(type='TestLoop')
# frozen model: no DDP in distributed runs
model_wrapper_cfg = dict(type='InferenceWrapper')
tensorboard = False  # nothing trains: mmengine's JSON scalars are enough
# ranks meet only while the job is built (one may be downloading weights) and at the end, where
# the writer gathers through files, not in a collective: a long timeout costs nothing
env_cfg = dict(dist_cfg=dict(timeout=3 * 3600))
default_hooks = dict(timer=dict(type='IterTimerHook'),
                     logger=dict(type='LoggerHook', interval=100))
custom_hooks = [dict(type='ProgressBarHook')]
# SAM resizes itself (the model's max_long_side, 1024 by default, bounds the generator's masks);
# a bad image is listed in failed.json and skipped
sam_pipeline = [dict(type='LoadImage', record_errors=True), dict(type='PackWSSSInputs')]
test_dataloader = dict(
    batch_size=4,  # images keep their own sizes: the model runs them one by one
    num_workers=None,  # from the cores per rank (wsss.utils.workers.loader_workers)
    persistent_workers=False,
    sampler=dict(type='PendingSampler', out_files=[]),  # skips finished images, shards over ranks
    dataset=dict(pipeline=sam_pipeline))
# clean-up, filter and RLE of the masks in this many CPU processes (None: the rank's cores
# that the model and the loader leave)
test_evaluator = dict(type='SAMMaskWriter', workers=None)
