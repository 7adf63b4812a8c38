# Test-time options of stage two (tools/test.py; the datasets' configs include this file beside
# their tta_pipeline):
#   --tta  mmseg's SegTTAModel over the dataset's tta_pipeline (multi-scale + flip): the mean of
#          the views' softmax probabilities, then the argmax;
#   --crf  DenseCRFTestModel: stage one's dense CRF (wsss/models/crf.py) on the predicted
#          probabilities (with --tta, on their mean over the views), then the argmax.
tta_model = dict(type='SegTTAModel')
crf_model = dict(
    type='DenseCRFTestModel',
    probs='softmax',  # seg_logits -> probabilities; Mask2Former configs use 'normalize'
    # deeplab-pytorch's CRF (the stage-two code of CLIP-ES and of many WSSS methods), the same
    # settings as CLIP-ES's CRF seeds
    crf=dict(iters=10, gauss_sxy=1, gauss_compat=3, bilateral_sxy=67, bilateral_srgb=3,
             bilateral_compat=4))
