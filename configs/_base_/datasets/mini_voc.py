# The synthetic mini VOC tree (python -m wsss.datasets.synthetic data/mini_voc) for smoke runs on
# CPU. Stage two trains on seeds; until seeds exist, its own GT masks stand in
# (train_dataloader.dataset.seed_dir).
_base_ = ['../test_time.py']
data_root = 'data/mini_voc'
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),
    dict(type='RandomResize', scale=(128, 96), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='LoadLabelMap'),
    dict(type='PackWSSSInputs'),
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]  # --tta, as in voc12_seeds.py
tta_pipeline = [
    dict(type='LoadImage'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(128, 96), keep_ratio=True)],
        [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadLabelMap')],
        [dict(type='PackWSSSInputs')],
    ]),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='PseudoLabelDataset',
        seed_dir=data_root + '/SegmentationClass',
        dataset=dict(type='VOC12Dataset', data_root=data_root, split='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VOC12Dataset', data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
# the same numbers; tools/test.py also writes metrics.json and per_image.csv (out_dir)
test_evaluator = dict(type='SegMetric')
