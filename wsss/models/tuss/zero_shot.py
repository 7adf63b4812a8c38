"""TUSS step 1: DBA-CLIP mask embeddings and zero-shot mask labels (docs/tuss.md §2-4, §6).

One pass over a split's images (tools/generate_seeds.py, resumable and multi-GPU as every seed
step): per image, its SAM masks (the mask store of tools/sam_masks.py) bias and pool DBA-CLIP
features into mask embeddings; the embeddings are classified against the template-averaged text
embeddings of the vocabulary (foreground names, then background words); ``seed_on_logits`` turns
the logits into mask labels, which are painted into the seed. The embeddings and each mask's
score row go to the stage's mask store for the GLCC steps.
"""
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from ...datasets.class_names import TUSS_VOCABULARIES
from ...io.seeds import read_label_map
from ...registry import MODELS
from ..clip import (
    CLIP_ES_TEMPLATE,
    CLIPDenseEncoder,
    DBAFeatureExtractor,
    pool_mask_embeddings,
    tuss_input_size,
)
from ..clip.frozen import FrozenCLIP
from ..clip.text import VILD_TEMPLATES
from .seed_on_logits import seed_on_logits
from .stage import TUSSStageModel, gt_seeds, gt_vote_fractions

SUPERVISIONS = ('weak', 'full', 'semi', 'ov')

# Images without labels ('ov', the unlabelled images of 'semi'): the open-vocabulary rows of §6,
# every class, scores as they are (no min-max across masks, which sets every class's best mask to
# 1 and so puts every class in every image). VOC: the vocabulary ['background'] + names under
# the origami template, softmax over it, background^α with α = 1/16 (the end of the official
# sweep {1 … 1/16}; with α = 1 a mask that matches nothing still takes its argmax class). COCO:
# the weak vocabulary and templates, softmax over the 103 names, the 80 kept, background
# (1 − max)^p. The semi LP then seeds these rows with {'softmax': None, 'norm': False, 'L1': True}
# (softmax rows are already L1-normalised).
OPEN_VOCABULARY = {
    'voc12': dict(background_class=True, templates=(CLIP_ES_TEMPLATE,),
                  seeding=dict(softmax=1., norm=False, bypath_suppress=True,
                               bg=dict(method='alpha_bg', alpha=1 / 16))),
    'coco14': dict(background_class=False, templates=VILD_TEMPLATES,
                   seeding=dict(softmax=1., norm=False, bypath_suppress=True,
                                bg=dict(method='pow', p=0.3))),
}


@MODELS.register_module()
class TUSSZeroShotModel(FrozenCLIP, TUSSStageModel):
    """Mask embeddings and zero-shot mask labels of one image at a time.

    Predict mode takes the images at their original size as (3, H0, W0) uint8 BGR tensors
    (``LoadImage`` -> ``PackWSSSInputs``), resizes each (short side ``short_side``, sides rounded
    up to multiples of 16, Pillow bicubic), computes DBA-CLIP features
    (:class:`DBAFeatureExtractor`) and the masks' embeddings (:func:`pool_mask_embeddings`),
    the logits ``exp(logit_scale)·cos(E, t)`` over the vocabulary and the seed.

    Args:
        clip: arguments of :func:`wsss.models.clip.build_clip`.
        mask_dir: the SAM masks, ``<mask_dir>/<img_name>.json``.
        dataset: 'voc12' or 'coco14': the vocabulary of §4.2 and the DBA variant of §3.1 (VOC:
            A_q + A_k, residual (1, 1); COCO: (A_q + A_k)/2, residual (1, 2)).
        foreground, background: the vocabulary, instead of ``dataset``'s.
        templates: prompt templates averaged per class (the 14 ViLD templates).
        short_side: the resized image's short side.
        dba: :class:`DBAFeatureExtractor` settings (window, stride, global_weight, norm_att,
            residual_weights, fg_bias, bg_bias, pos_embed_mode, window_batch) over the dataset's.
        seeding: ``seed_on_logits`` settings (``with_bg_logit`` is False here): VOC's softmax at
            temperature 1 over the whole vocabulary, min-max per image, background (1 - max)^p.
        supervision: 'weak': image labels restrict the classes (background always present);
            'ov': no labels, all classes; 'full': every image's scores are its masks' GT vote
            fractions; 'semi': the images of ``labelled`` get GT fractions, the others 'ov'.
        labelled: for 'semi', a text file with one labelled image name per line.
        open_vocabulary: the recipe of images without labels ('ov', unlabelled 'semi') over
            :data:`OPEN_VOCABULARY` of ``dataset``: ``background_class`` (True: the vocabulary
            is ['background'] + foreground, its column 0 is background, ``with_bg_logit``;
            False: foreground + background words), ``templates``, ``seeding``.
    """

    def __init__(self, clip: Dict, mask_dir: str, dataset: Optional[str] = 'voc12',
                 foreground: Optional[Sequence[str]] = None,
                 background: Optional[Sequence[str]] = None,
                 templates: Sequence[str] = VILD_TEMPLATES, short_side: int = 448,
                 dba: Optional[Dict] = None, seeding: Optional[Dict] = None,
                 supervision: str = 'weak', labelled: Optional[str] = None,
                 open_vocabulary: Optional[Dict] = None,
                 data_preprocessor: Optional[Dict] = None) -> None:
        super().__init__(mask_dir, data_preprocessor=data_preprocessor)
        if supervision not in SUPERVISIONS:
            raise ValueError(f'model.supervision must be one of {SUPERVISIONS}, got '
                             f'{supervision!r}')
        if dataset is not None:
            vocabulary = TUSS_VOCABULARIES[dataset]
            foreground = foreground or vocabulary['foreground']
            background = vocabulary['background'] if background is None else background
        if not foreground:
            raise ValueError('TUSSZeroShotModel needs model.foreground (or model.dataset)')
        self.foreground, self.background = tuple(foreground), tuple(background or ())
        self.templates = tuple(templates)
        self.short_side = short_side
        self.seeding = {**dict(softmax=1., norm=True, bypath_suppress=True,
                               bg=dict(method='pow', p=0.3)), **(seeding or {})}
        self.supervision = supervision
        ov = OPEN_VOCABULARY.get(dataset, OPEN_VOCABULARY['coco14'])
        self.open_vocabulary = {**ov, **(open_vocabulary or {})}
        self.open_vocabulary['seeding'] = {**ov['seeding'],
                                           **self.open_vocabulary.get('seeding', {})}
        self.labelled = self._read_labelled(labelled) if supervision == 'semi' else set()
        self.build_frozen_clip(clip, pixel_scale=1.)  # preprocess scales to [0, 1] itself
        self.encoder = CLIPDenseEncoder(self.clip.visual, num_attn_layers=0)
        coco = dataset == 'coco14'
        dba_cfg = {**dict(norm_att=coco, residual_weights=(1., 2.) if coco else (1., 1.)),
                   **(dba or {})}
        self.features = DBAFeatureExtractor(self.encoder, **dba_cfg)

    @property
    def num_classes(self) -> int:
        return len(self.foreground) + 1

    @staticmethod
    def _read_labelled(path: Optional[str]) -> set:
        if not path or not osp.isfile(path):
            raise FileNotFoundError(f'labelled-image list {path!r} not found: semi supervision '
                                    'needs model.labelled, a file with one image name a line')
        with open(path) as f:
            return {line.strip() for line in f if line.strip()}

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H0, W0) uint8 BGR -> (1, 3, H, W) resized (Pillow bicubic), CLIP-normalised RGB."""
        H0, W0 = image.shape[-2:]
        H, W = tuss_input_size(H0, W0, self.short_side)
        rgb = image.flip(0).permute(1, 2, 0).cpu().numpy()
        rgb = mmcv.imresize(rgb, (W, H), interpolation='bicubic', backend='pillow')
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255).to(self.mean.device)
        return ((tensor - self.mean) / self.std)[None]

    def mask_embeddings(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """(M, D) unnormalised DBA-CLIP embeddings of an image's masks (M, H0, W0)."""
        if len(masks) == 0:
            return torch.zeros(0, self.clip.visual.output_dim)
        features = self.features(self.preprocess(image), masks)
        return pool_mask_embeddings(features, masks).float().cpu()

    def logits(self, embeddings: torch.Tensor, open_vocabulary: bool = False) -> torch.Tensor:
        """(M, |V|) zero-shot logits ``exp(logit_scale)·cos(E, t)`` over the vocabulary (the
        open-vocabulary recipe's with ``open_vocabulary``)."""
        vocabulary, templates = self.foreground + self.background, self.templates
        if open_vocabulary:
            templates = self.open_vocabulary['templates']
            if self.open_vocabulary['background_class']:
                vocabulary = ('background',) + self.foreground
        with torch.no_grad():
            text = self.text.encode_classes(vocabulary, templates)
        scale = self.clip.logit_scale.exp().float().cpu()
        return scale * F.normalize(embeddings, dim=-1) @ text.float().cpu().t()

    reads_images = True
    # windows per encoder batch: the embeddings are the same at any value (docs/tuss.md)
    memory_setting = 'model.dba.window_batch'

    def seed_unlabelled(self, logits: torch.Tensor):
        """Every class of an image without labels, by the open-vocabulary recipe."""
        return seed_on_logits(logits, range(len(self.foreground)),
                              with_bg_logit=self.open_vocabulary['background_class'],
                              **self.open_vocabulary['seeding'])

    def predict_one(self, image: torch.Tensor, sample: SegDataSample) -> None:
        C = len(self.foreground)
        name = sample.metainfo['img_name']
        records, masks = self.load_masks(name, tuple(image.shape[-2:]))
        with torch.no_grad():
            embeddings = self.mask_embeddings(image, masks)
        labelled = self.supervision == 'full' or name in self.labelled
        logits = self.logits(embeddings, self.supervision in ('ov', 'semi') and not labelled)
        store = dict(embeddings=embeddings.numpy(), logits=logits.numpy(),
                     areas=masks.flatten(1).sum(1).numpy().astype(np.int64),
                     levels=np.array([r['level'] for r in records], np.int8))
        if labelled:
            gt = read_label_map(sample.metainfo['seg_map_path'])
            scores = torch.from_numpy(gt_vote_fractions(masks.numpy(), gt, C + 1))
            seeds = gt_seeds(scores)
        elif self.supervision == 'weak':
            fg_cls = np.flatnonzero(np.asarray(sample.metainfo['img_labels'])).tolist()
            seeds = seed_on_logits(logits, fg_cls, with_bg_logit=False, **self.seeding)
        else:  # open vocabulary: every class
            seeds = self.seed_unlabelled(logits)
        if self.supervision in ('full', 'semi'):
            store['labelled'] = np.array(labelled)
        self.finish(sample, masks, records, seeds, store)
