# Relevancy seeds on COCO 2014 train (82,081 images). Published: none.
_base_ = ['../_base_/models/relevancy_vit-b16.py', '../_base_/seed_runtime.py']
model = dict(dataset='coco14')
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train', pipeline={{_base_.relevancy_pipeline}}))
