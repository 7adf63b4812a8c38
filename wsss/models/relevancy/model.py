"""The relevancy seeder (after Zabari & Hoshen, arXiv 2112.03185; docs/relevancy.md):
gradient-weighted attention relevancy of a CLIP ViT per labelled class (Chefer et al.), averaged
over test-time augmentations, 3 clicks per class from its peaks, SAM masks from the clicks, and the
seed from the masks.

Shapes: B images (views), K labelled classes of one image, N = 1 + h*w tokens, (h, w) the patch
grid, (H, W) the image.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mmcv
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from ...datasets.class_names import DATASET_CLASSES
from ...registry import MODELS, SEEDERS
from ...utils.memory import is_out_of_memory, out_of_memory_reason
from ..clip.attention import CLIPAttentionEncoder
from ..clip.frozen import FrozenCLIP
from ..clip.text import VILD_TEMPLATES
from ..clip_es.cam import normalize_cam, resize_cams
from ..seeders.base import ClickSeeder


def relevancy_rollout(attn: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """Chefer's relevancy from the attention probabilities of the chosen blocks and the gradients
    of a target with respect to them (CH ``CLIP_explainability.ipynb`` ``interpret``).

    Per block, in forward order: Ā = mean over heads of relu(G ⊙ A); R starts as the identity
    and becomes R + Ā R. The relevance is the class token's row of R without the class token.

    Args:
        attn: per block, (..., heads, N, N) post-softmax attention probabilities.
        grads: per block, (..., heads, N, N) ∂target/∂A; leading dims broadcast against ``attn``'s
            (e.g. (K, B, ...) gradients of K targets against (B, ...) attention).

    Returns:
        (..., N - 1): the relevance of each patch token.
    """
    if len(attn) != len(grads) or not attn:
        raise ValueError(f'need one gradient per attention block, got {len(attn)} blocks and '
                         f'{len(grads)} gradients')
    R = None
    for A, G in zip(attn, grads):
        A_bar = (G * A).clamp(min=0).mean(dim=-3)
        if R is None:
            R = torch.eye(A_bar.shape[-1], dtype=A_bar.dtype, device=A_bar.device)
        R = R + A_bar @ R
    return R[..., 0, 1:]


def clip_relevancy(image_embedding: torch.Tensor, attn: Sequence[torch.Tensor],
                   text_feats: torch.Tensor, logit_scale: torch.Tensor,
                   grid: Tuple[int, int]) -> torch.Tensor:
    """Relevancy maps of K classes for each of B images, from one batched backward.

    The target of image b and class k is CLIP's image-text logit ``logit_scale * cos(f_b, t_k)``
    (100·cos for OpenAI's weights; no softmax over the classes). The gradients of all K targets
    come from one ``torch.autograd.grad`` with ``is_grads_batched``: slot k differentiates class
    k of every image at once (an image's targets depend on its own attention only).

    Args:
        image_embedding: (B, D) ``AttentionOutput.image_embedding``, with its graph to ``attn``.
        attn: ``AttentionOutput.attn``, per block (B, heads, N, N).
        text_feats: (K, D) the classes' text embeddings; normalised here.
        logit_scale: ``model.logit_scale.exp()``.
        grid: the patch grid (h, w), h*w = N - 1.

    Returns:
        (B, K, h, w) relevancy (not normalised).
    """
    B, K = len(image_embedding), len(text_feats)
    if K == 0:
        return image_embedding.new_zeros(B, 0, *grid)
    targets = logit_scale * F.normalize(image_embedding, dim=-1) @ F.normalize(
        text_feats.to(image_embedding.dtype), dim=-1).t()  # (B, K)
    grad_outputs = torch.eye(K, dtype=targets.dtype, device=targets.device)[:, None, :].expand(
        K, B, K)
    grads = torch.autograd.grad(targets, list(attn), grad_outputs=grad_outputs,
                                is_grads_batched=True)  # per block (K, B, heads, N, N)
    relevance = relevancy_rollout([a.detach() for a in attn], grads)  # (K, B, N - 1)
    return relevance.transpose(0, 1).unflatten(-1, grid)


def tta_relevancy(image: torch.Tensor, relevancy: Callable[[torch.Tensor], torch.Tensor],
                  scales: Sequence[int] = (224, 336),
                  flips: Sequence[bool] = (False, True)) -> torch.Tensor:
    """Relevancy maps averaged over test-time augmentations, at the image's size
    (docs/relevancy.md §4).

    Each pass resizes the whole image to s×s (Pillow bicubic, no crop), flipped horizontally or
    not; the flips of one scale go through ``relevancy`` as one batch. Each map is resized
    bilinearly (align_corners=False) to s×s, its flip undone, and resized to the image's size;
    the result is the mean over the len(scales) * len(flips) passes (not normalised).

    Args:
        image: (3, H, W) uint8.
        relevancy: (B, 3, s, s) uint8 views -> (B, K, h, w) maps.
        scales: the square sizes s.
        flips: per pass at each scale, whether it is flipped horizontally.

    Returns:
        (K, H, W) float32.
    """
    if not scales or not flips:
        raise ValueError(f'test-time augmentation needs at least one scale and one flip setting, '
                         f'got scales={scales}, flips={flips}')
    size = tuple(image.shape[-2:])
    hwc = image.permute(1, 2, 0).cpu().numpy()
    total = 0
    for s in scales:
        resized = mmcv.imresize(hwc, (s, s), interpolation='bicubic', backend='pillow')
        resized = torch.from_numpy(resized).permute(2, 0, 1).to(image.device)
        views = torch.stack([resized.flip(-1) if flip else resized for flip in flips])
        maps = resize_cams(relevancy(views), (s, s))
        maps = torch.stack([m.flip(-1) if flip else m for m, flip in zip(maps, flips)])
        total = total + resize_cams(maps, size).sum(dim=0)
    return total / (len(scales) * len(flips))


@MODELS.register_module()
class CLIPRelevancyModel(FrozenCLIP, BaseModel):
    """Relevancy seeds: CLIP relevancy maps of each image's labelled classes, averaged over
    test-time augmentations, turned into seeds by a click seeder (``RelevancySeeder``: 3 clicks
    per class, SAM masks, overlaps by relevancy).

    Per image: the ViLD template-averaged text embedding of each labelled class; for each scale,
    one forward of the identity and flipped views and one batched backward
    (:func:`clip_relevancy`); :func:`tta_relevancy` averages the passes at the image's size; each
    class's map is min-max normalised to [0, 1]. Each returned data sample holds
    ``pred_sem_seg`` (the seed), ``seed_confidence``, ``cams`` (the K relevancy maps at the
    image's original size) and in its metainfo ``cam_class_ids`` and ``clicks`` (K, n, 2) (x, y).

    Images go in at their original size (the test pipeline has no resize): the views are made
    here.

    Args:
        clip: arguments of :func:`wsss.models.clip.build_clip`.
        dataset: 'voc12' or 'coco14' for the bundled (clean) prompt names, or None to give
            ``class_names``.
        class_names: prompt name per foreground class (ids 1..C).
        templates: prompt templates whose embeddings are averaged per class (ViLD's 14).
        start_block: first block of the relevancy rollout: -1 the last only (Chefer's fix for
            ViT-B/16), 0 all.
        scales, flips: the test-time augmentations (:func:`tta_relevancy`).
        seeder: a SEEDERS config with a ``clicks`` method (``RelevancySeeder``).
    """

    can_defer_seeding = False  # the seeder runs SAM on the model's device, in this process
    can_batch_images = False  # TTA views of one image are its batch

    def __init__(self, clip: Dict, seeder: Dict, dataset: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None,
                 templates: Sequence[str] = VILD_TEMPLATES, start_block: int = -1,
                 scales: Sequence[int] = (224, 336), flips: Sequence[bool] = (False, True),
                 data_preprocessor: Optional[Dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        if dataset is not None:  # no released code to match: the clean prompt names
            class_names = class_names or DATASET_CLASSES[dataset]['prompt_names']
        if not class_names:
            raise ValueError('CLIPRelevancyModel needs class_names (or dataset=voc12|coco14)')
        self.class_names, self.templates = tuple(class_names), tuple(templates)
        self.build_frozen_clip(clip)
        self.seeder = SEEDERS.build(seeder)
        if not isinstance(self.seeder, ClickSeeder):
            raise ValueError(f'CLIPRelevancyModel needs a click seeder (RelevancySeeder), got '
                             f'{type(self.seeder).__name__}: set model.seeder.type')
        patch = self.clip.visual.patch_size
        for s in scales:
            if s % patch[0] or s % patch[1]:
                raise ValueError(f'TTA scale {s} is not a multiple of the patch size {patch}: '
                                 'set model.scales')
        self.encoder = CLIPAttentionEncoder(self.clip.visual, start_block)
        self.scales, self.flips = tuple(scales), tuple(flips)

    @property
    def num_classes(self) -> int:
        """Classes with background, as the datasets count them."""
        return len(self.class_names) + 1

    def text_features(self) -> torch.Tensor:
        """(C, D): the template-averaged embedding of each class."""
        return self.text.encode_classes(self.class_names, self.templates)

    def view_relevancy(self, views: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B, K, h, w) relevancy of the K classes ``text`` (K, D) in each (3, s, s) uint8 BGR
        view."""
        with torch.enable_grad():
            out = self.encoder(torch.cat([self.normalize(view) for view in views]))
            maps = clip_relevancy(out.image_embedding, out.attn, text,
                                  self.clip.logit_scale.exp(), out.grid)
        return maps.detach()

    def image_cams(self, image: torch.Tensor, labels: torch.Tensor,
                   text: torch.Tensor) -> torch.Tensor:
        """(K, H, W) relevancy maps in [0, 1] of the labelled classes of one (3, H, W) uint8 BGR
        image, at its size; ``text``: :meth:`text_features`."""
        if not labels.any():
            return torch.zeros(0, *image.shape[-2:], device=image.device)
        class_text = text[labels.bool().nonzero()[:, 0]]
        maps = tta_relevancy(image, lambda views: self.view_relevancy(views, class_text),
                             self.scales, self.flips)
        return normalize_cam(maps)

    def predict(self, inputs: List[torch.Tensor],
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        with torch.no_grad():
            text = self.text_features()
        for image, sample in zip(inputs, data_samples):
            if 'load_error' in sample.metainfo:  # an image the loader could not decode
                continue
            try:
                self.seed_one(image, sample, text)
            except Exception as e:  # noqa: BLE001  out of memory: the image fails, not the job
                if not is_out_of_memory(e):
                    raise
                sample.set_metainfo(dict(load_error=out_of_memory_reason(
                    sample.metainfo.get('img_path', '?'), image.shape[-2:],
                    'the image\'s size (this pipeline keeps it: resize the image beforehand)')))
        return data_samples

    def seed_one(self, image: torch.Tensor, sample: SegDataSample, text: torch.Tensor) -> None:
        """Relevancy maps, clicks, seed and confidence of one image, stored in its sample."""
        labels = self.sample_labels(sample)
        class_ids = (labels.nonzero()[:, 0] + 1).tolist()
        maps = self.image_cams(image, labels, text)
        maps = resize_cams(maps, sample.metainfo['ori_shape']).clamp_(0, 1)
        clicks = self.seeder.clicks(maps)
        seed, confidence = self.seeder(maps, class_ids, sample.metainfo, clicks=clicks)
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(seed)[None])
        sample.seed_confidence = PixelData(data=torch.from_numpy(confidence)[None])
        sample.cams = PixelData(data=maps.half().cpu())
        sample.set_metainfo(dict(cam_class_ids=class_ids, clicks=clicks.cpu().numpy()))

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode in ('predict', 'tensor'):
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            raise ValueError(f'{type(self).__name__} is training-free: generate seeds with '
                             'tools/generate_seeds.py')
        raise ValueError(f'unknown mode {mode!r}')
