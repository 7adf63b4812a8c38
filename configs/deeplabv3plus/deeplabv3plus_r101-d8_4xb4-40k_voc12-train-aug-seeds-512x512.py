# Stage two: DeepLabV3+ R-101-D8 on seeds of VOC 2012 train_aug as the 20k config, 40k iterations.
# Fully supervised (GT) reference, mmseg model zoo: 78.62 mIoU on val.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8.py', '../_base_/datasets/voc12_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
