# Instant test of the relevancy pipeline: seeds with a tiny random CLIP and SAM, their mIoU, a
# tiny DeepLabV3+ on them and its val mIoU, on the generated mini VOC tree
# (python -m wsss.datasets.synthetic data/mini_voc); a minute on a CPU, numbers meaningless.
work_dir = None  # work_dirs/relevancy_tiny_minivoc
_stage_two = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-20_minivoc-64x64.py'
steps = dict(
    seeds=dict(tool='seeds', config='configs/relevancy/relevancy_vit-tiny_minivoc.py',
               show_dir='vis'),
    seed_eval=dict(tool='eval_seeds', seeds='seeds'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'}),
)
