# Prompt-learning crops: random long-side rescale 288-480, 224 crop (padded with 255 labels),
# flip, colour jitter. The classification stage needs images and labels only; the segmentation
# stage reads coarse seeds through PseudoLabelDataset (the `seed_pipeline`).
crop_size = (224, 224)
augment = [
    dict(type='RandomResize', scale=[(288, 288), (480, 480)], keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Pad', size=crop_size, pad_val=dict(img=0, seg=255)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
image_pipeline = [dict(type='LoadImage')] + augment
seed_pipeline = [dict(type='LoadImage'), dict(type='LoadLabelMap')] + augment
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
