# CLIP-ES + CRF seeds on COCO 2014 train over the released code's own image list and labels: its
# split file coco14/train.txt (82,081 lines `<image name> <0-based class id> ...`) in place of the
# images and labels derived from instances_train2014.json. Copy that file from the CLIP-ES release
# to the path below (or set test_dataloader.dataset.labels_from);
#   python tools/dataset_converters/coco14.py data/coco2014 --compare-labels LIST
# prints where it differs from the annotations.
_base_ = ['./clip-es_vit-b16_crf_coco14-train.py']
test_dataloader = dict(dataset=dict(labels_from='data/coco2014/clip-es_coco14_train.txt'))
