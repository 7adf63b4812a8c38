# Stage two: DeepLabV2 R-101-D8 trained on seeds of COCO 2014 train, evaluated on val GT (81
# classes), 4 GPUs x 4 images, SGD lr 0.01, poly, 80k iterations.
# Literature: CLIP-ES + CGL, DeepLabV2: 45.4 mIoU on val.
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py', '../_base_/datasets/coco14_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=81))
