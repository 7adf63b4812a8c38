# SAM ViT-H masks at FMA-WSSS's settings on COCO 2014 train (82,081 images).
_base_ = './sam_vit-h_fma_voc12-train.py'
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
