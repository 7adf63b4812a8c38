# Stage two: SegFormer MiT-B5 trained on seeds of COCO 2014 train, evaluated on val GT (81
# classes), with mmseg's SegFormer recipe (8 GPUs x 2 images, AdamW lr 6e-5, warm-up, 80k
# iterations).
_base_ = [
    '../_base_/models/segformer_mit-b5.py', '../_base_/datasets/coco14_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/segformer_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=81))
train_dataloader = dict(batch_size=2)
