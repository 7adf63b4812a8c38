# Stage two: DeepLabV3+ R-101-D8 trained on seeds of VOC 2012 train_aug, evaluated on val GT, with
# mmseg's VOC-aug recipe (4 GPUs x 4 images, SGD lr 0.01, poly, 20k iterations).
# Fully supervised (GT) reference, mmseg model zoo: 77.22 mIoU on val.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8.py', '../_base_/datasets/voc12_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
