# CLIP-ES CAM + CAA seeds on VOC 2012 train (1,464 images). Published: 70.8 mIoU (CAM+CAA).
_base_ = ['../_base_/models/clip_es_vit-b16.py', '../_base_/seed_runtime.py']
model = dict(dataset='voc12', box_threshold=0.4)
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='train'))
