# Stage two on COCO 2014: train on seeds of train (82,081 images), evaluate on val GT (40,137
# images, SegmentationClass/val2014 from tools/dataset_converters/coco14.py); VOC's 512x512
# pipelines.
_base_ = './voc12_seeds.py'
data_root = 'data/coco2014'
train_dataloader = dict(
    dataset=dict(
        seed_dir='work_dirs/seeds/coco14_train',  # a placeholder, set as in voc12_seeds.py
        dataset=dict(type='COCO14Dataset', data_root=data_root, split='train')))
val_dataloader = dict(dataset=dict(type='COCO14Dataset', data_root=data_root, split='val'))
test_dataloader = val_dataloader
