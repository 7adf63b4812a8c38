# CLIP-ES + dense CRF seeds on VOC 2012 train with the clean choices instead of the released
# code's (README: Fidelity): CAA boxes from `cam > 0.4` over the whole map, the clean prompt names
# ('table', 'potted plant'), the CRF's bilateral kernel on the image itself, fp32 CAMs.
# Not the configuration of the published 75.0. TF32 matrix products on CUDA (README: Performance).
_base_ = './clip-es_vit-b16_crf_voc12-train.py'
model = dict(released=False)
tf32 = True
