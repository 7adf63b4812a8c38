# Stage two on VOC 2012: train on seeds of train_aug (PseudoLabelDataset), evaluate on val GT;
# mmseg's VOC-aug 512x512 pipelines; multi-scale + flip testing (tools/test.py --tta).
_base_ = ['../test_time.py']
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadLabelMap'),
    dict(type='PackWSSSInputs'),
]
# --tta: the single-scale test size times each ratio, unflipped and flipped; the views' softmax
# probabilities are averaged at the original size. The ratios scale the single-scale test
# input (ratio 1 without flip is the single-scale prediction), not the original image as in
# mmseg's own VOC config.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImage'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(2048, 512), keep_ratio=True)],
        [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadLabelMap')],
        [dict(type='PackWSSSInputs')],
    ]),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='PseudoLabelDataset',
        # A placeholder: tools/run_pipeline.py sets it to the seeds it generated; by hand, e.g.
        # --cfg-options train_dataloader.dataset.seed_dir=work_dirs/<seed config>/seeds
        seed_dir='work_dirs/seeds/voc12_train_aug',
        # None: the seeds as they are (CLIP-ES's CRF seeder already writes CGL's 255s into
        # them); a value in [0, 1] also ignores pixels whose <name>_conf.png is below it.
        confidence_threshold=None,
        dataset=dict(type='VOC12Dataset', data_root=data_root, split='train_aug'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VOC12Dataset', data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
# the same numbers; tools/test.py also writes metrics.json and per_image.csv (out_dir)
test_evaluator = dict(type='SegMetric')
