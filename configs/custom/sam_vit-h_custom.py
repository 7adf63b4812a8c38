# SAM ViT-H masks (FMA-WSSS's settings) of your own photos, for the SAMS seeds of
# clip-es_vit-b16_sams_custom.py: python tools/sam_masks.py configs/custom/sam_vit-h_custom.py
_base_ = ['../sam/sam_vit-h_fma_voc12-train.py', '../_base_/datasets/custom_folder.py']
test_dataloader = dict(dataset=dict(
    _delete_=True, type='ImageFolderDataset', data_root={{_base_.data_root}}, img_dir='images',
    labels_file='labels.csv', classes={{_base_.classes}}, pipeline={{_base_.sam_pipeline}}))
