# Stage two of FMA-WSSS: Mask2Former Swin-L (ImageNet-22k, 384) trained on the fine seeds of VOC
# 2012 train_aug, evaluated on val GT: 2 GPUs x 2 images, 512x512 crops, 80k iterations of
# mmseg's Mask2Former recipe, single-scale test. Published: 82.6 mIoU on val (83.1 in the
# authors' rerun; 81.6 on test), with the checkpoint at 30k iterations of this 80k schedule,
# the best on val (configs/pipelines/fma-wsss_vit-b16_voc12_m2f.py trains to it).
_base_ = [
    '../_base_/models/mask2former_swin-l-in22k-384.py', '../_base_/datasets/voc12_seeds.py',
    '../_base_/default_runtime.py', '../_base_/schedules/mask2former_80k.py'
]
train_dataloader = dict(batch_size=2,
                        dataset=dict(pipeline={{_base_.mask2former_train_pipeline}}))
# Mask2Former's seg_logits are scores (class x mask probabilities summed over the queries), not
# logits: --crf divides them by their sum instead of a softmax.
crf_model = dict(probs='normalize')
