# Prompt-learning crops as FMA-WSSS's released training makes them: random rescale with the long
# side in 288-480 (318-531 for COCO; Pillow bicubic), the short side then kept at least 224 so that
# the 224 crop needs no padding, flip, colour jitter. The classification stage needs images and
# labels only; the segmentation stage reads coarse seeds through PseudoLabelDataset (the
# `seed_pipeline`).
crop_size = (224, 224)
rescale = dict(type='RandomResize', scale=[(288, 288), (480, 480)], keep_ratio=True,
               backend='pillow', interpolation='bicubic')
augment = [
    rescale,
    dict(type='EnsureShortSide', min_size=224),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
image_pipeline = [dict(type='LoadImage')] + augment
seed_pipeline = [dict(type='LoadImage'), dict(type='LoadLabelMap')] + augment
coco_augment = [dict(rescale, scale=[(318, 318), (531, 531)])] + augment[1:]
coco_image_pipeline = [dict(type='LoadImage')] + coco_augment
coco_seed_pipeline = [dict(type='LoadImage'), dict(type='LoadLabelMap')] + coco_augment
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
