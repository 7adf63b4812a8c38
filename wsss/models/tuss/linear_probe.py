"""GLCC's cosine linear probe (docs/tuss.md §5.1-5.2, the released ``emb_classifier.py``).

Trained with tools/train.py like every other model (mmengine Runner, multi-GPU), on every mask
of a split: :class:`MaskEmbeddingDataset` gives each mask's embedding, soft label and area;
:class:`TUSSLinearProbe` computes ``100 · cos(e, W_c)`` and the area-weighted soft-target
cross-entropy. As a seed step (tools/generate_seeds.py with the trained weights) it classifies
every mask of the split with its image's classes (``val/iter-final``).
"""
from typing import Dict, List, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from torch import nn

from ...io.mask_store import load_shard, shard_path, store_dir
from ...registry import MODELS
from .seed_on_logits import seed_on_logits
from .stage import TUSSStageModel, kept_classes


def area_weighted_loss(logits: torch.Tensor, soft_label: torch.Tensor,
                       area: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy weighted by ``area / (Σ_batch area + 1e-3)``, summed."""
    ce = F.cross_entropy(logits, soft_label, reduction='none')
    weights = area / (area.sum() + 1e-3)
    return (weights * ce).sum()


@MODELS.register_module()
class TUSSLinearProbe(TUSSStageModel):
    """W ∈ R^{K×D}, no bias; ``logits = scale · normalize(e) @ normalize(W)ᵀ`` (scale 100).

    ``loss`` mode: a batch of :class:`MaskEmbeddingDataset`. ``predict`` mode (a seed step over
    the split's images): each mask's logits → ``seed_on_logits`` with background and the
    image's classes (``with_bg_logit``; softmax over those columns at temperature 1, min-max
    per image, ``alpha_bg`` α = 1 by default, O-T1).

    Args:
        num_classes: K, background included.
        embed_dim: D (512 for ViT-B/16).
        mask_dir, embeddings_from, scores_from: for seeding: the SAM masks, the zero-shot step's
            seed folder (embeddings) and the seed folder whose stored classes (``cls_lb``)
            restrict each image (the step the probe was trained from).
        seeding: ``seed_on_logits`` settings.
    """

    def __init__(self, num_classes: int, embed_dim: int = 512, scale: float = 100.,
                 mask_dir: Optional[str] = None, embeddings_from: Optional[str] = None,
                 scores_from: Optional[str] = None, seeding: Optional[Dict] = None,
                 data_preprocessor: Optional[Dict] = None) -> None:
        super().__init__(mask_dir, data_preprocessor=data_preprocessor)
        self.num_classes = num_classes
        self.head = nn.Linear(embed_dim, num_classes, bias=False)
        self.register_buffer('scale', torch.tensor(float(scale)))
        self.embeddings_from, self.scores_from = embeddings_from, scores_from
        self.seeding = {**dict(softmax=1., norm=True, bypath_suppress=False,
                               bg=dict(method='alpha_bg', alpha=1.)), **(seeding or {})}

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(embeddings, dim=-1) @ F.normalize(
            self.head.weight, dim=-1).t()

    def forward(self, inputs=None, data_samples=None, mode: str = 'predict'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: dict) -> Dict[str, torch.Tensor]:
        """``inputs`` (B, D) or a list of B (D,) embeddings (mmengine's ``pseudo_collate``),
        ``data_samples``: ``soft_label`` (B, K) and ``area`` (B,), or lists of them."""
        inputs, soft, area = (torch.stack(list(t)) if isinstance(t, (list, tuple)) else t
                              for t in (inputs, data_samples['soft_label'],
                                        data_samples['area']))
        if soft.shape[1] != self.num_classes:
            raise ValueError(f'the mask store has {soft.shape[1]} classes, the probe '
                             f'{self.num_classes}: set model.num_classes')
        return dict(loss_probe=area_weighted_loss(self.logits(inputs.float()), soft, area))

    def image_scores(self, name: str):
        """(embeddings (M, D), cls_lb (K,), extra stored arrays) of an image."""
        if not self.embeddings_from or not self.scores_from:
            raise ValueError('seeding with the probe needs model.embeddings_from and '
                             'model.scores_from (seed folders of earlier TUSS steps)')
        emb = load_shard(shard_path(store_dir(self.embeddings_from), name),
                         'model.embeddings_from')
        prev = load_shard(shard_path(store_dir(self.scores_from), name), 'model.scores_from')
        return emb, prev

    def predict_one(self, image, sample: SegDataSample) -> None:
        name = sample.metainfo['img_name']
        records, masks = self.load_masks(name)
        emb, prev = self.image_scores(name)
        with torch.no_grad():
            logits = self.logits(torch.from_numpy(emb['embeddings']).to(
                self.scale.device)).cpu()
        seeds = seed_on_logits(logits, kept_classes(prev['cls_lb']), with_bg_logit=True,
                               **self.seeding)
        self.finish(sample, masks, records, seeds, carry_labelled(emb))


def carry_labelled(emb: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The ``labelled`` flag of the zero-shot store, carried into a later stage's store."""
    return {'labelled': emb['labelled']} if 'labelled' in emb else {}
