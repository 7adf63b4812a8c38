"""GLCC's cosine linear probe (docs/tuss.md §5.1-5.2, the released ``emb_classifier.py``).

Trained with tools/train.py like every other model (mmengine Runner, multi-GPU), on every mask
of a split: :class:`MaskEmbeddingDataset` gives each mask's embedding, soft label and area;
:class:`TUSSLinearProbe` computes ``100 · cos(e, W_c)`` and the area-weighted soft-target
cross-entropy. As a seed step (tools/generate_seeds.py with the trained weights) it classifies
every mask of the split with its image's classes (``val/iter-final``).
"""
from typing import Dict, Iterator, List, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmseg.structures import SegDataSample
from torch import nn
from torch.utils.data import BatchSampler, Dataset, Sampler

from ...registry import DATA_SAMPLERS, DATASETS, MODELS
from .mask_store import load_shard, load_split, shard_path, store_dir
from .seed_on_logits import seed_on_logits
from .stage import TUSSStageModel, kept_classes


def soft_labels(scores: np.ndarray, cls_lb: np.ndarray, gamma: float = 100.) -> np.ndarray:
    """§5.1: softmax over the columns of ``cls_lb`` of ``gamma · P``, 0 elsewhere
    (``prob2soft_lb = {'norm': 'softmax', 'gamma': 100}``)."""
    logits = torch.as_tensor(np.asarray(scores, np.float64)) * gamma
    logits = logits.masked_fill(~torch.as_tensor(np.asarray(cls_lb, bool)), float('-inf'))
    return torch.softmax(logits, dim=1).numpy().astype(np.float32)


@DATASETS.register_module()
class MaskEmbeddingDataset(Dataset):
    """Every SAM mask of a split as one training sample of the probe.

    Args:
        embeddings_from: seed folder of the zero-shot step (its mask store holds embeddings,
            areas and, for full / semi supervision, which images are labelled).
        scores_from: seed folder of the step whose scores P give the soft labels (LP1 for
            probe1, LP2 for probe2).
        gamma: soft-label temperature (100).

    Labelled images (full / semi) train on their masks' GT vote fractions as they are; the
    others on ``softmax(gamma · P)`` within their classes. Items are
    ``dict(inputs=(D,) embedding, data_samples=dict(soft_label=(K,), area=()))``, which
    mmengine's ``pseudo_collate`` batches into lists that the probe stacks.
    """

    def __init__(self, embeddings_from: str, scores_from: str, gamma: float = 100.) -> None:
        emb_dir = store_dir(embeddings_from)
        store = load_split(emb_dir, ['embeddings', 'areas', 'scores'],
                           setting='train_dataloader.dataset.embeddings_from')
        names = list(store['names'])
        prev = load_split(store_dir(scores_from), ['scores', 'cls_lb'], names=names,
                          setting='train_dataloader.dataset.scores_from')
        soft = soft_labels(prev['scores'], prev['cls_lb'], gamma)
        labelled = self._labelled(emb_dir, names, store['offsets'])
        soft[labelled] = store['scores'][labelled]
        self.embeddings = torch.from_numpy(store['embeddings'].astype(np.float32))
        self.soft = torch.from_numpy(soft)
        self.areas = torch.from_numpy(store['areas'].astype(np.float32))
        self.labelled = labelled
        self.metainfo: Dict = {}
        if len(self.embeddings) == 0:
            raise ValueError(f'the mask store {emb_dir} holds no mask: nothing to train on')

    @staticmethod
    def _labelled(folder: str, names: List[str], offsets: np.ndarray) -> np.ndarray:
        rows = np.zeros(offsets[-1], bool)
        for i, name in enumerate(names):
            shard = load_shard(shard_path(folder, name))
            if 'labelled' in shard and bool(shard['labelled']):
                rows[offsets[i]:offsets[i + 1]] = True
        return rows

    def __len__(self) -> int:
        return len(self.embeddings)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.embeddings[index],
                    data_samples=dict(soft_label=self.soft[index], area=self.areas[index]))


@DATA_SAMPLERS.register_module()
class GlobalBatchSampler(BatchSampler):
    """Batches of ``batch_size / world_size`` per process: a step of a distributed run trains on
    ``batch_size`` samples (the recipe's "1xb512": 512 masks a step at lr 0.02) whatever the
    number of GPUs, so the iteration counts and the learning rate stay the recipe's.

    ``train_dataloader = dict(batch_size=512, batch_sampler=dict(type='GlobalBatchSampler'))``:
    mmengine passes the sampler (which shards the indices over the processes) and batch_size.
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = True) -> None:
        _, world_size = get_dist_info()
        if batch_size % world_size:
            raise ValueError(f'the global batch of {batch_size} does not split over '
                             f'{world_size} processes: set train_dataloader.batch_size to a '
                             f'multiple of {world_size}')
        super().__init__(sampler, batch_size // world_size, drop_last)
        self.global_batch_size = batch_size


@DATA_SAMPLERS.register_module()
class SemiBalanceSampler(Sampler):
    """Dual-stream sampling of semi supervision (§6): an unlabelled and a labelled mask in turn
    (u, l, u, l, …), so half of every even batch is labelled; each stream is reshuffled when it
    runs out (the smaller labelled set is repeated). Endless, as mmengine's ``InfiniteSampler``;
    process r of a distributed run takes every world_size-th pair, from pair r.

    Args:
        dataset: a :class:`MaskEmbeddingDataset` with labelled and unlabelled masks.
        seed: the shuffles' seed.
    """

    def __init__(self, dataset: MaskEmbeddingDataset, seed: int = 0) -> None:
        labelled = np.asarray(getattr(dataset, 'labelled', ()), bool)
        self.streams = [np.flatnonzero(~labelled), np.flatnonzero(labelled)]
        if not all(len(s) for s in self.streams):
            raise ValueError('SemiBalanceSampler needs labelled and unlabelled masks: the mask '
                             'store of train_dataloader.dataset.embeddings_from has '
                             f'{len(self.streams[1])} labelled and {len(self.streams[0])} '
                             'unlabelled; use the InfiniteSampler for one kind')
        self.rank, self.world_size = get_dist_info()
        self.seed = seed

    def _stream(self, indices: np.ndarray, gen: torch.Generator) -> Iterator[int]:
        while True:
            yield from indices[torch.randperm(len(indices), generator=gen).numpy()].tolist()

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed)
        unlabelled, labelled = (self._stream(s, gen) for s in self.streams)
        pair = 0
        while True:
            u, lab = next(unlabelled), next(labelled)
            if pair % self.world_size == self.rank:
                yield u
                yield lab
            pair += 1

    def __len__(self) -> int:
        return 2 * len(self.streams[0]) // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Endless: one epoch (DistSamplerSeedHook calls this)."""


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
