# Relevancy seeds (CLIP relevancy + TTA + SAM clicks) of your own photos. See
# clip-es_vit-b16_custom.py for making your own config from it.
_base_ = ['../_base_/models/relevancy_vit-b16.py', '../_base_/seed_runtime.py',
          '../_base_/datasets/custom_folder.py']
model = dict(class_names={{_base_.classes}})
test_dataloader = dict(dataset=dict(
    type='ImageFolderDataset', data_root={{_base_.data_root}}, img_dir='images',
    labels_file='labels.csv', classes={{_base_.classes}}, seg_map_dir='masks',
    pipeline={{_base_.relevancy_pipeline}}))
