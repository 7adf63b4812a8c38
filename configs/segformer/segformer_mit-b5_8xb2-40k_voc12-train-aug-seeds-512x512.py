# Stage two: SegFormer MiT-B5 trained on seeds of VOC 2012 train_aug, evaluated on val GT, with
# mmseg's SegFormer recipe (8 GPUs x 2 images, AdamW lr 6e-5, warm-up, 40k iterations).
_base_ = [
    '../_base_/models/segformer_mit-b5.py', '../_base_/datasets/voc12_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/segformer_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(batch_size=2)
