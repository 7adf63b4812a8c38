# Seed generation runs mmengine's test loop: tools/generate_seeds.py fills in seed_dir (default
# work_dirs/<config>/seeds), cam_dir (--save-cams) and show_dir (--show-dir) below.
_base_ = './default_runtime.py'
test_cfg = dict(type='TestLoop')
# frozen model: no DDP in distributed runs
model_wrapper_cfg = dict(type='InferenceWrapper')
tensorboard = False  # nothing trains: mmengine's JSON scalars are enough
# ranks meet only while the job is built (one may be downloading weights) and at the end, where
# the writer gathers through files, not in a collective: a long timeout costs nothing
env_cfg = dict(dist_cfg=dict(timeout=3 * 3600))
# TF32 matrix products on CUDA (tools/generate_seeds.py): off, the reproduction configs keep the
# float32 arithmetic their parity checks are made on; the *_clean configs turn it on (README:
# Performance)
tf32 = False
default_hooks = dict(timer=dict(type='IterTimerHook'),
                     logger=dict(type='LoggerHook', interval=100))
custom_hooks = [dict(type='ClassCountCheckHook'), dict(type='ProgressBarHook')]
stage_one_pipeline = [
    dict(type='LoadImage', record_errors=True),  # a bad image is listed in failed.json, skipped
    # bicubic, each side a multiple of the ViT patch; a long side over 640 is scaled down to it
    # first (the ViT's tokens, hence its memory, are bounded; CAMs and seeds come back at the
    # image's size). 640 touches no VOC (<= 500) or COCO (<= 640) image.
    dict(type='ResizeToMultiple', divisor=16, max_long_side=640),
    dict(type='PackWSSSInputs'),
]
test_dataloader = dict(
    batch_size=4,  # images keep their own sizes: the model runs them one by one
    # None: beside a GPU a third of the rank's cores (1..4), none where the model runs on the
    # CPU: there decoding and resizing in the model's process cost ~1% of an image, loader
    # processes take time from the model's threads
    num_workers=None,
    persistent_workers=False,
    sampler=dict(type='PendingSeedSampler'),  # skips finished images, shards over ranks
    dataset=dict(pipeline=stage_one_pipeline))
# the seeder, PNG encoding and CAM saving run in this many CPU processes beside the model
# (None: the cores of each rank the model leaves free, beside a GPU those the model's process
# and the loader leave; 0: in the model's process)
test_evaluator = dict(type='SeedWriter', workers=None)
