"""Stage-one models: frozen CLIP -> softmax-GradCAM -> CAA -> seeds; CLIP-ES (training-free)
and FMA-WSSS (learned prompts)."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import open_clip
import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from ..datasets.class_names import DATASET_CLASSES, default_background_words
from ..datasets.transforms import IMAGE_ERRORS, mark_failed
from ..registry import MODELS
from ..utils.memory import is_out_of_memory, out_of_memory_reason
from .cam import (GRADCAM_TARGETS, attention_affinity, caa_refine, resize_cams,
                  softmax_gradcam)
from .clip import CLIP_ES_TEMPLATE, CLIPDenseEncoder, TextEncoder, build_clip, build_tokenizer
from .losses import crop_labels
from .prompts import PromptLearner
from .seeder_config import build_seeder


AUTOCAST_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


def same_size_groups(images: Sequence[torch.Tensor], max_size: int) -> List[List[int]]:
    """Indices of ``images`` grouped by shape (in order of first appearance), each group cut into
    chunks of at most ``max_size``."""
    groups = defaultdict(list)
    for i, image in enumerate(images):
        groups[tuple(image.shape)].append(i)
    return [group[start:start + max_size] for group in groups.values()
            for start in range(0, len(group), max_size)]


@MODELS.register_module()
class CLIPCAMModel(BaseModel):
    """CAMs and seeds from a frozen CLIP; each image at its own size.

    Predict mode takes the images of a batch as a list of (3, H, W) uint8 BGR tensors whose sides
    are multiples of the patch size (``ResizeToMultiple``), and the data samples with their
    image-level labels (``img_labels``). Images of the same size go through the ViT together,
    up to ``images_per_forward`` at a time (one by one by default). For each image:
    softmax-GradCAM of all its labelled classes from one forward and one backward per class slot
    (:func:`softmax_gradcam`); optionally CAA refinement with the
    attention of the last ``num_attn_layers`` blocks; CAMs resized to the original image size;
    then the seeder turns them into a seed and a confidence map. Each returned data sample holds
    ``pred_sem_seg`` (the seed), ``seed_confidence`` and ``cams`` (K, H, W) with their class ids
    in the metainfo ``cam_class_ids``. Samples the loader marked ``load_error`` are returned
    untouched.

    Args:
        clip: arguments of :func:`wsss.models.clip.build_clip` (name, pretrained, model_cfg, ...).
        dataset: 'voc12' or 'coco14' for the bundled prompt names and background words, or None
            to give ``class_names`` and ``background_words`` yourself.
        class_names: prompt name per foreground class (ids 1..C); synonyms comma-separated.
        background_words: names always present in the softmax as background; None without a
            ``dataset``: :data:`~wsss.datasets.class_names.DEFAULT_BACKGROUND_WORDS` (CLIP-ES's
            23 COCO words) less the class names; ``()`` for none (a single-label image then
            gets no foreground: its softmax over one class has no gradient).
        template: the prompt template.
        num_attn_layers: last blocks whose attention CAA averages (8 of 12 for ViT-B/16).
        caa: refine with class-aware attention affinity.
        sinkhorn_iters: Sinkhorn rounds of CAA.
        box_threshold: CAA box threshold (0.4 VOC, 0.7 COCO).
        seeder: a SEEDERS config; default argmax with background power 1.
        released: compute what the authors' released code computes (the reproduction configs):
            its CAA box rule (:func:`wsss.models.cam.box_mask`), its prompt-name lists with their
            typos (``dataset`` given), its GradCAM target and normalisation
            (:attr:`RELEASED_GRADCAM`),
            and, for seeders with a ``released`` setting left at None
            (``CRFSeeder``), their released path. False: the clean choices (README, Fidelity).
        raw_cam: hand the seeder the raw GradCAM (no ReLU, not normalised), CAA-refined on its own
            values with boxes from its normalised copy (FMA-WSSS's released segmentation stage);
            only for seeders that normalise scores themselves (SAMS). Default: normalised CAMs.
        defer_seeding: leave the seeder to the writer: each returned sample holds its float32
            ``cams`` and the ``seeder`` instead of a seed, and :class:`SeedWriter` runs the
            seeder in its pool of CPU workers, off the model's path (tools/generate_seeds.py
            sets it for models that can, ``can_defer_seeding``).
        fp16_pos_embed: round the resized positional embedding to fp16, as CLIP-ES's fp16 model
            does (parity checks).
        images_per_forward: at most this many same-size images of a batch share one forward
            and backward (tools/generate_seeds.py ``--batch N``, with a sampler that orders the
            images by size). The CAMs equal the one-by-one CAMs up to float rounding (tested to
            1e-5). 1 (default): on a CPU batching measured no faster; on a GPU it is the point.
        autocast: None (fp32, the default), 'fp16' or 'bf16': the ViT forward under
            ``torch.autocast`` (the GradCAM weights, CAMs and CAA stay fp32). Not the released
            code's arithmetic: CLIP-ES runs its whole model in fp16 with fp32 layer norms, autocast
            keeps the softmax and the norms in fp32; tools/benchmark/seed_throughput.py
            ``--autocast`` prints the largest CAM difference against fp32.
        cam_norm_passes: min-max normalisations of the GradCAM (``norm_passes`` of
            :func:`softmax_gradcam`); None: :attr:`RELEASED_GRADCAM`'s with ``released``, else 1.
        gradcam_target: the scores GradCAM differentiates, 'softmax' (exact) or
            'masked_softmax' (FMA-WSSS's released one, :func:`wsss.models.cam.class_scores`);
            None: :attr:`RELEASED_GRADCAM`'s with ``released``, else 'softmax'.
        encoder_dtype: None (fp32, the default), 'fp16' or 'bf16': the frozen ViT's weights cast
            once, its inputs with them (the GradCAMs, CAMs and CAA in fp32); on a GPU cheaper
            than ``autocast``, which casts the frozen weights again at every forward. Not the
            released arithmetic either (README: Performance gives the CAM difference).
    """

    # the GradCAM of the released code: CLIP-ES's bundled pytorch_grad_cam normalises each CAM
    # twice, of an exact softmax (README, Fidelity); the clean path once
    RELEASED_GRADCAM = dict(norm_passes=2, target='softmax')
    CLEAN_GRADCAM = dict(norm_passes=1, target='softmax')
    can_defer_seeding = True  # tools/generate_seeds.py may set defer_seeding
    can_batch_images = True  # tools/generate_seeds.py --batch may set images_per_forward

    def __init__(self, clip: Dict, dataset: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None,
                 background_words: Optional[Sequence[str]] = None,
                 template: str = CLIP_ES_TEMPLATE, num_attn_layers: int = 8, caa: bool = True,
                 sinkhorn_iters: int = 3, box_threshold: float = 0.4,
                 seeder: Optional[Dict] = None, defer_seeding: bool = False,
                 fp16_pos_embed: bool = False, released: bool = True, raw_cam: bool = False,
                 images_per_forward: int = 1, autocast: Optional[str] = None,
                 cam_norm_passes: Optional[int] = None, gradcam_target: Optional[str] = None,
                 encoder_dtype: Optional[str] = None,
                 data_preprocessor: Optional[Dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        for name, value in (('autocast', autocast), ('encoder_dtype', encoder_dtype)):
            if value is not None and value not in AUTOCAST_DTYPES:
                raise ValueError(f'model.{name} must be None or one of '
                                 f'{list(AUTOCAST_DTYPES)}, got {value!r}')
        if int(images_per_forward) < 1:
            raise ValueError(f'model.images_per_forward must be >= 1, got {images_per_forward}')
        self.images_per_forward, self.autocast = int(images_per_forward), autocast
        gradcam = self.RELEASED_GRADCAM if released else self.CLEAN_GRADCAM
        self.cam_norm_passes = int(gradcam['norm_passes'] if cam_norm_passes is None
                                   else cam_norm_passes)
        if self.cam_norm_passes < 1:
            raise ValueError(f'model.cam_norm_passes must be >= 1, got {cam_norm_passes}')
        self.gradcam_target = gradcam['target'] if gradcam_target is None else gradcam_target
        if self.gradcam_target not in GRADCAM_TARGETS:
            raise ValueError(f'model.gradcam_target must be one of {GRADCAM_TARGETS}, got '
                             f'{gradcam_target!r}')
        if dataset is not None:
            names = DATASET_CLASSES[dataset]
            class_names = class_names or names[
                'released_prompt_names' if released else 'prompt_names']
            background_words = names['background_words'] if background_words is None \
                else background_words
        if not class_names:
            raise ValueError('CLIPCAMModel needs class_names (or dataset=voc12|coco14)')
        if background_words is None:  # own data: a general list (an empty tuple: none at all)
            background_words = default_background_words(class_names)
        self.class_names = tuple(class_names)
        self.background_words = tuple(background_words)
        self.template = template
        self.clip = build_clip(**clip)
        self.encoder = CLIPDenseEncoder(self.clip.visual, num_attn_layers, fp16_pos_embed)
        # the frozen ViT cast once: autocast would cast its weights again at every forward
        self.encoder_dtype = AUTOCAST_DTYPES.get(encoder_dtype, torch.float32)
        self.encoder.to(self.encoder_dtype)
        self.text = TextEncoder(self.clip, build_tokenizer(clip.get('name', 'ViT-B-16'),
                                                           clip.get('model_cfg')))
        self.caa, self.sinkhorn_iters = caa, sinkhorn_iters
        self.box_threshold, self.released, self.raw_cam = box_threshold, released, raw_cam
        self.seeder = build_seeder(seeder, released)
        self.defer_seeding = defer_seeding
        self._text_cache: Optional[tuple] = None  # (key, text features): predict_text_features
        mean, std = getattr(self.clip.visual, 'image_mean', None), getattr(
            self.clip.visual, 'image_std', None)
        self.register_buffer('mean', torch.tensor(mean or open_clip.OPENAI_DATASET_MEAN)
                             .view(3, 1, 1) * 255, persistent=False)
        self.register_buffer('std', torch.tensor(std or open_clip.OPENAI_DATASET_STD)
                             .view(3, 1, 1) * 255, persistent=False)
        # CLIP is frozen and rebuilt from its own weights: checkpoints keep only what is learned
        self._register_state_dict_hook(_drop_frozen)
        self._register_load_state_dict_pre_hook(_restore_frozen, with_module=True)

    @property
    def num_classes(self) -> int:
        """Classes with background, as the datasets count them."""
        return len(self.class_names) + 1

    def text_features(self) -> torch.Tensor:
        """(C + NB, D): the foreground prompts, then the background words (cached)."""
        return self.text.encode_classes(self.class_names + self.background_words, self.template)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) or (B, 3, H, W) uint8 BGR -> (1 or B, 3, H, W) CLIP-normalised RGB float."""
        rgb = image.to(self.mean.device).float().flip(-3)
        out = (rgb - self.mean) / self.std
        return out if out.ndim == 4 else out[None]

    def image_cams(self, image: torch.Tensor, labels: torch.Tensor,
                   text: torch.Tensor) -> torch.Tensor:
        """(K, h, w) CAMs on the patch grid of the labelled classes of one (3, H, W) image, in
        [0, 1] (raw with ``raw_cam``); ``text``: :meth:`text_features`."""
        return self.batch_cams(image[None], labels[None], text)[0]

    def batch_cams(self, images: torch.Tensor, labels: torch.Tensor,
                   text: torch.Tensor) -> List[torch.Tensor]:
        """:meth:`image_cams` of B same-size images (B, 3, H, W) with labels (B, C) from one
        forward and one backward per class slot: B float32 tensors (K_b, h, w)."""
        with torch.enable_grad(), torch.autocast(
                self.mean.device.type, dtype=AUTOCAST_DTYPES.get(self.autocast),
                enabled=self.autocast is not None):
            out = self.encoder(self.normalize(images).to(self.encoder_dtype))
        with torch.enable_grad():
            cams = softmax_gradcam(out.ln1, out.image_feature.float(), text, labels,
                                   self.clip.logit_scale.exp(), out.grid, raw=self.raw_cam,
                                   norm_passes=self.cam_norm_passes,
                                   target=self.gradcam_target)
        if self.caa:
            affinity = attention_affinity([a.float() for a in out.attn], self.sinkhorn_iters)
            cams = [caa_refine(c, a, self.box_threshold, self.released, self.raw_cam)
                    if len(c) else c for c, a in zip(cams, affinity)]
        return [c.detach() for c in cams]

    def predict_text_features(self) -> torch.Tensor:
        """:meth:`text_features` without a graph, computed again only when a learnable weight
        (FMA's prompt contexts) changed since the last call: learned prompts pass the whole
        text encoder, which on a CPU costs more than a batch's image forwards."""
        key = (self.mean.device, *((id(p), p._version) for p in self.parameters()
                                   if p.requires_grad))
        if self._text_cache is None or self._text_cache[0] != key:
            with torch.no_grad():
                self._text_cache = (key, self.text_features())
        return self._text_cache[1]

    def predict(self, inputs: List[torch.Tensor],
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        if self.raw_cam and not getattr(self.seeder, 'takes_raw_cams', False):
            raise ValueError(f'raw_cam=True hands raw GradCAMs to the seeder, which '
                             f'{type(self.seeder).__name__} cannot score: use SAMSSeeder or set '
                             'model.raw_cam=False')
        text = self.predict_text_features()
        # samples the loader marked load_error (an image it could not decode) stay untouched
        todo = [i for i, s in enumerate(data_samples) if 'load_error' not in s.metainfo]
        for group in same_size_groups([inputs[i] for i in todo], self.images_per_forward):
            batch = [todo[j] for j in group]
            try:
                self.seed_batch([inputs[i] for i in batch], [data_samples[i] for i in batch],
                                text)
            except Exception as e:  # noqa: BLE001  out of memory: those images fail, not the job
                if not is_out_of_memory(e):
                    raise
                for i in batch:  # listed in failed.json by the writer
                    data_samples[i].set_metainfo(dict(load_error=out_of_memory_reason(
                        data_samples[i].metainfo.get('img_path', '?'), inputs[i].shape[-2:],
                        'max_long_side of the pipeline\'s ResizeToMultiple')))
        return data_samples

    def seed_batch(self, images: List[torch.Tensor], samples: List[SegDataSample],
                   text: torch.Tensor) -> None:
        """CAMs and seeds of same-size images, stored in their samples."""
        labels = torch.stack([self.sample_labels(s) for s in samples])
        for sample, row, cams in zip(samples, labels,
                                     self.batch_cams(torch.stack(images), labels, text)):
            try:
                self.set_seed(sample, cams, (row.nonzero()[:, 0] + 1).tolist())
            except IMAGE_ERRORS as e:  # the seeder could not read its SAM masks
                mark_failed(sample, e)

    def sample_labels(self, sample: SegDataSample) -> torch.Tensor:
        """(C,) multi-hot image-level labels of a data sample, on the model's device."""
        return torch.as_tensor(np.asarray(sample.metainfo['img_labels']), device=self.mean.device)

    def set_seed(self, sample: SegDataSample, cams: torch.Tensor,
                 class_ids: List[int]) -> None:
        """Resize an image's (K, h, w) CAMs of ``class_ids`` to its original size and store them
        in ``sample`` with the seed and its confidence (or, with ``defer_seeding``, with the
        seeder)."""
        cams = resize_cams(cams, sample.metainfo['ori_shape'])
        if not self.raw_cam:
            cams.clamp_(0, 1)
        # raw CAMs stay float32 in the sample and in CAM files: float16 would flush a weak
        # class's raw values (down to ~1e-9) to 0 (wsss.evaluation.save_cams)
        sample.set_metainfo(dict(cam_class_ids=class_ids, raw_cams=self.raw_cam))
        if self.defer_seeding:
            sample.cams = PixelData(data=cams.cpu())
            sample.seeder = self.seeder
            return
        seed, confidence = self.seeder(cams, class_ids, sample.metainfo)
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(seed)[None])
        sample.seed_confidence = PixelData(data=torch.from_numpy(confidence)[None])
        sample.cams = PixelData(data=(cams if self.raw_cam else cams.half()).cpu())

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode in ('predict', 'tensor'):
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        raise ValueError(f'unknown mode {mode!r}')

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        raise ValueError(f'{type(self).__name__} is training-free: generate seeds with '
                         'tools/generate_seeds.py')


FROZEN_PREFIXES = ('clip.', 'encoder.')

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


def _drop_frozen(module: nn.Module, state_dict: dict, prefix: str, local_metadata) -> None:
    for key in [k for k in state_dict if k[len(prefix):].startswith(FROZEN_PREFIXES)]:
        del state_dict[key]


def _restore_frozen(module: 'CLIPCAMModel', state_dict: dict, prefix: str, *args) -> None:
    """Checkpoints lack the frozen CLIP (see ``_drop_frozen``): take the module's own."""
    for name in FROZEN_PREFIXES:
        part = getattr(module, name.rstrip('.'))
        for key, value in part.state_dict(prefix=prefix + name).items():
            state_dict.setdefault(key, value)


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
    # MaskedSoftmax(epsilon=1e-5) (wsss.models.cam.released_masked_softmax), in seeding and in
    # segmentation-prompt training alike (README, Fidelity)
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
