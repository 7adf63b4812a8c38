# CLIP-ES + CRF seeds on COCO 2014 train (82,081 images): the 23 COCO background words, CAA box
# threshold 0.7.
_base_ = ['../_base_/models/clip_es_vit-b16.py', '../_base_/seed_runtime.py']
model = dict(dataset='coco14', box_threshold=0.7,
             seeder=dict(_delete_=True, type='CRFSeeder', bg_power=1.0,
                         confidence_threshold=0.95, iters=10))
test_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root='data/coco2014',
                                    split='train'))
