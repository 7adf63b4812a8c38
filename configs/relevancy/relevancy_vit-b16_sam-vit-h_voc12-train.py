# Relevancy seeds on VOC 2012 train (1,464 images). Published: none (the paper gives no seed mIoU).
_base_ = ['../_base_/models/relevancy_vit-b16.py', '../_base_/seed_runtime.py']
model = dict(dataset='voc12')
test_dataloader = dict(dataset=dict(type='VOC12Dataset', data_root='data/VOCdevkit/VOC2012',
                                    split='train', pipeline={{_base_.relevancy_pipeline}}))
