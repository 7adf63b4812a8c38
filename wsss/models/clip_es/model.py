"""CLIP-ES (docs/clip_es.md): frozen CLIP -> softmax-GradCAM -> CAA -> CAMs at the image's size
-> seeds by the configured seeder; training-free. FMA-WSSS builds on it (wsss.models.fma)."""
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from ...datasets.class_names import DATASET_CLASSES, default_background_words
from ...datasets.transforms import IMAGE_ERRORS, mark_failed
from ...registry import MODELS
from ...utils.benchmark import stage
from ...utils.memory import is_out_of_memory, out_of_memory_reason
from ..clip import CLIP_ES_TEMPLATE, CLIPDenseEncoder
from ..clip.frozen import FrozenCLIP
from ..seeders.base import build_seeder
from .cam import GRADCAM_TARGETS, attention_affinity, caa_refine, resize_cams, softmax_gradcam

AUTOCAST_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


def host_copy(tensors: List[torch.Tensor]) -> List[torch.Tensor]:
    """``tensors`` (of one dtype) on the CPU through one device-to-host copy: one wait for the
    device a batch instead of one per image. Views of one buffer (as the seed writer's arrays
    are pickled to its pool, each carries its own values only)."""
    if not tensors:
        return tensors
    flat = torch.cat([t.reshape(-1) for t in tensors]).cpu()
    return [part.view(t.shape) for part, t in zip(flat.split([t.numel() for t in tensors]),
                                                  tensors)]


def same_size_groups(images: Sequence[torch.Tensor], max_size: int) -> List[List[int]]:
    """Indices of ``images`` grouped by shape (in order of first appearance), each group cut into
    chunks of at most ``max_size``."""
    groups = defaultdict(list)
    for i, image in enumerate(images):
        groups[tuple(image.shape)].append(i)
    return [group[start:start + max_size] for group in groups.values()
            for start in range(0, len(group), max_size)]


@MODELS.register_module()
class CLIPCAMModel(FrozenCLIP, BaseModel):
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
            its CAA box rule (:func:`wsss.models.clip_es.cam.box_mask`), its prompt-name lists
            with their typos (``dataset`` given), its GradCAM target and normalisation
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
            'masked_softmax' (FMA-WSSS's released one,
            :func:`wsss.models.clip_es.cam.class_scores`);
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
        self.build_frozen_clip(clip)
        self.encoder = CLIPDenseEncoder(self.clip.visual, num_attn_layers, fp16_pos_embed)
        # the frozen ViT cast once: autocast would cast its weights again at every forward
        self.encoder_dtype = AUTOCAST_DTYPES.get(encoder_dtype, torch.float32)
        self.encoder.to(self.encoder_dtype)
        self.caa, self.sinkhorn_iters = caa, sinkhorn_iters
        self.box_threshold, self.released, self.raw_cam = box_threshold, released, raw_cam
        self.seeder = build_seeder(seeder, released)
        # a seeder that holds a network on the model's device runs here, not in the pool
        self.defer_seeding = defer_seeding and self.seeder.runs_in_pool
        self._text_cache: Optional[tuple] = None  # (key, text features): predict_text_features

    @property
    def num_classes(self) -> int:
        """Classes with background, as the datasets count them."""
        return len(self.class_names) + 1

    def text_features(self) -> torch.Tensor:
        """(C + NB, D): the foreground prompts, then the background words (cached)."""
        return self.text.encode_classes(self.class_names + self.background_words, self.template)

    def image_cams(self, image: torch.Tensor, labels: torch.Tensor,
                   text: torch.Tensor) -> torch.Tensor:
        """(K, h, w) CAMs on the patch grid of the labelled classes of one (3, H, W) image, in
        [0, 1] (raw with ``raw_cam``); ``text``: :meth:`text_features`."""
        return self.batch_cams(image[None], labels[None], text)[0]

    def batch_cams(self, images: torch.Tensor, labels: torch.Tensor, text: torch.Tensor,
                   gradcam: Callable = softmax_gradcam) -> List[torch.Tensor]:
        """:meth:`image_cams` of B same-size images (B, 3, H, W) with labels (B, C) from one
        forward and one backward per class slot: B float32 tensors (K_b, h, w). ``gradcam``:
        :func:`~wsss.models.cam.gradcam_per_class_loop` for a backward per (image, class), the
        released code's order (tools/benchmark/seed_throughput.py's baseline)."""
        with torch.enable_grad(), torch.autocast(
                self.mean.device.type, dtype=AUTOCAST_DTYPES.get(self.autocast),
                enabled=self.autocast is not None):
            out = self.encoder(self.normalize(images).to(self.encoder_dtype))
        with torch.enable_grad():
            cams = gradcam(out.ln1, out.image_feature.float(), text, labels,
                           self.clip.logit_scale.exp(), out.grid, raw=self.raw_cam,
                           norm_passes=self.cam_norm_passes, target=self.gradcam_target)
        if self.caa:
            with stage('caa'):  # timed by tools/benchmark/seed_throughput.py
                affinity = attention_affinity([a.float() for a in out.attn],
                                              self.sinkhorn_iters)
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
        if self.raw_cam and not self.seeder.takes_raw_cams:
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
        cams = [self.full_size_cams(c, s) for c, s in
                zip(self.batch_cams(torch.stack(images), labels, text), samples)]
        if self.defer_seeding and self.mean.device.type != 'cpu':  # seeded in the writer's pool
            cams = host_copy(cams)
        for sample, row, image_cams in zip(samples, labels, cams):
            try:
                self.store_seed(sample, image_cams, (row.nonzero()[:, 0] + 1).tolist())
            except IMAGE_ERRORS as e:  # the seeder could not read its SAM masks
                mark_failed(sample, e)

    def full_size_cams(self, cams: torch.Tensor, sample: SegDataSample) -> torch.Tensor:
        """An image's (K, h, w) CAMs resized to its original size (clamped to [0, 1] unless
        raw)."""
        with stage('resize'):
            cams = resize_cams(cams, sample.metainfo['ori_shape'])
            if not self.raw_cam:
                cams.clamp_(0, 1)
        return cams

    def set_seed(self, sample: SegDataSample, cams: torch.Tensor,
                 class_ids: List[int]) -> None:
        """Resize an image's (K, h, w) CAMs of ``class_ids`` to its original size and store them
        in ``sample`` with the seed and its confidence (or, with ``defer_seeding``, with the
        seeder)."""
        self.store_seed(sample, self.full_size_cams(cams, sample), class_ids)

    def store_seed(self, sample: SegDataSample, cams: torch.Tensor,
                   class_ids: List[int]) -> None:
        """:meth:`set_seed` of CAMs already at the image's original size."""
        # raw CAMs stay float32 in the sample and in CAM files: float16 would flush a weak
        # class's raw values (down to ~1e-9) to 0 (wsss.io.cams.save_cams)
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
