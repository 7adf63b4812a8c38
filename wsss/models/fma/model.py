"""FMA-WSSS's stage one (docs/fma_wsss.md): CLIP-ES's CAMs with CoOp prompts learned in two
stages, a classification stage and a segmentation stage."""
from typing import Dict, List, Optional

import torch
from mmseg.structures import SegDataSample

from ...registry import MODELS
from ..clip_es.cam import softmax_gradcam
from ..clip_es.model import CLIPCAMModel
from .losses import crop_labels
from .prompts import PromptLearner

# Where FMA-WSSS's released code departs from the clean path, per (dataset, stage):
# raw_cam: CAA on the raw GradCAM, which goes raw to SAMS (the VOC segmentation stage and both
# COCO stages; the VOC classification stage refines the normalised CAM); crop_labels: in
# segmentation-prompt training, a crop's labels are the classes of its cropped coarse seed (VOC)
# rather than the whole image's labels (COCO).
FMA_RELEASED = {
    ('voc12', 'cls'): dict(raw_cam=False),
    ('voc12', 'seg'): dict(raw_cam=True, crop_labels=True),
    ('coco14', 'cls'): dict(raw_cam=True),
    ('coco14', 'seg'): dict(raw_cam=True, crop_labels=False),
}


@MODELS.register_module()
class FMAPromptModel(CLIPCAMModel):
    """FMA-WSSS's stage one: CLIP-ES's CAMs with learned CoOp prompts (docs/fma_wsss.md).

    ``loss`` mode trains the prompt contexts only (CLIP stays frozen), on fixed-size training
    crops given as a list of (3, H, W) uint8 BGR tensors:

    - ``stage='cls'``: the multi-label contrastive loss between the images' features (mean of
      the projected patch tokens) and the foreground prompts, with the image-level labels;
    - ``stage='seg'``: the CAM activation loss between the raw softmax-GradCAM of each crop's
      classes (no ReLU, no normalisation, weights through the gradient with ``create_graph``,
      i.e. double backprop into the contexts) and the crop's coarse seed (``gt_sem_seg``, from
      PseudoLabelDataset); the crop's labels are the classes present in its seed
      (``crop_labels``), or the whole image's labels.

    ``predict`` mode is CLIPCAMModel's with the learned prompts in place of the template.

    Args:
        stage: 'cls' or 'seg'.
        prompts: PromptLearner settings (n_ctx, ctx_std, shared_context, class_token_position);
            with ``dataset`` set, FMA's settings for (dataset, stage) are the defaults.
        loss: the loss config; default the stage's loss.
        raw_cam, crop_labels: None takes the released code's choice for (dataset, stage) from
            :data:`FMA_RELEASED` when ``released`` (and a dataset) is set, else the clean one
            (normalised CAMs; the crop's labels).
        other arguments: CLIPCAMModel's.
    """

    # FMA-WSSS's own GradCAM normalises once (its min_max_norm) and differentiates alchemy_cat's
    # MaskedSoftmax(epsilon=1e-5) (wsss.models.clip_es.cam.released_masked_softmax), in seeding
    # and in segmentation-prompt training alike (README, Fidelity)
    RELEASED_GRADCAM = dict(norm_passes=1, target='masked_softmax')

    def __init__(self, stage: str, prompts: Optional[Dict] = None, loss: Optional[Dict] = None,
                 raw_cam: Optional[bool] = None, crop_labels: Optional[bool] = None,
                 **kwargs) -> None:
        if stage not in ('cls', 'seg'):
            raise ValueError(f"stage must be 'cls' or 'seg', got {stage!r}")
        released = FMA_RELEASED.get((kwargs.get('dataset'), stage), {}) if kwargs.get(
            'released', True) else {}
        super().__init__(raw_cam=released.get('raw_cam', False) if raw_cam is None else raw_cam,
                         **kwargs)
        self.stage = stage
        self.crop_labels = released.get('crop_labels', True) if crop_labels is None else \
            crop_labels
        if kwargs.get('dataset'):
            self.prompts = PromptLearner.from_dataset(
                self.clip, self.text.tokenizer, kwargs['dataset'], stage,
                released=self.released, **(prompts or {}))
        else:
            self.prompts = PromptLearner(self.clip, self.text.tokenizer, self.class_names,
                                         self.background_words, **(prompts or {}))
        default = 'MultiLabelContrastiveLoss' if stage == 'cls' else 'CAMActivationLoss'
        self.loss_module = MODELS.build(loss or dict(type=default))

    def text_features(self) -> torch.Tensor:
        return self.prompts()

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[SegDataSample]) -> Dict[str, torch.Tensor]:
        images = self.normalize(torch.stack(inputs))
        text = self.prompts()
        scale = self.clip.logit_scale.exp()
        num_fg = len(self.class_names)
        if self.stage == 'cls':
            with torch.no_grad():
                features = self.encoder(images).image_feature
            labels = torch.stack([self.sample_labels(s) for s in data_samples])
            loss = self.loss_module(features, text[:num_fg], labels, scale)
        else:
            seeds = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).to(images.device)
            if self.crop_labels:
                labels = torch.stack([crop_labels(seed, num_fg) for seed in seeds])
            else:
                labels = torch.stack([self.sample_labels(s) for s in data_samples])
            out = self.encoder(images)
            cams = softmax_gradcam(out.ln1, out.image_feature, text, labels, scale, out.grid,
                                   raw=True, create_graph=True, target=self.gradcam_target)
            class_ids = [(row.nonzero()[:, 0] + 1).tolist() for row in labels]
            loss = self.loss_module(cams, class_ids, seeds.long())
        if not loss.requires_grad:
            # a batch whose crops hold no labelled class gives a constant: tie it to the prompts
            # so that backward (and DDP's gradient sync) still runs
            loss = loss + 0 * text.sum()
        return {self.loss_module.loss_name: loss}
