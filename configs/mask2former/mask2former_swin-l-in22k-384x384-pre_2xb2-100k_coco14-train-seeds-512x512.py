# Stage two of FMA-WSSS on COCO 2014: Mask2Former Swin-L (ImageNet-22k, 384) trained on the fine
# seeds of train, evaluated on val GT: 2 GPUs x 2 images, 512x512 crops, 100k iterations of
# mmseg's Mask2Former recipe, single-scale test. Published: 55.4 mIoU on val, with the checkpoint
# at 90k iterations of this 100k schedule, the best on val
# (configs/pipelines/fma-wsss_vit-b16_coco14_m2f.py trains to it).
_base_ = [
    '../_base_/models/mask2former_swin-l-in22k-384.py', '../_base_/datasets/coco14_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/mask2former_100k.py'
]
num_classes = 81  # background + 80
model = dict(decode_head=dict(num_classes=num_classes,
                              loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))
train_dataloader = dict(batch_size=2,
                        dataset=dict(pipeline={{_base_.mask2former_train_pipeline}}))
crf_model = dict(probs='normalize')  # as in the VOC config
