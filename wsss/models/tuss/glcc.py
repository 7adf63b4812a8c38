"""GLCC seed steps over a split's mask store: transductive label propagation (LP1, LP2; §5.3)
and the combination of label propagation and the probe for new images (§5.4-5.5), each run by
tools/generate_seeds.py (resumable, one seed and one store shard per image)."""
import logging
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.logging import print_log
from mmseg.structures import SegDataSample

from ...io.mask_store import load_shard, load_split, shard_path, split_names, store_dir
from ...registry import MODELS
from .knn import KNNIndex
from .label_propagation import LabelPropagation, inductive_propagation
from .linear_probe import TUSSLinearProbe, carry_labelled
from .lp_graph import (
    SCORES_FOLDER,
    computed_once,
    fingerprint,
    graph_degrees,
    shared_graph,
    store_fingerprint,
)
from .seed_on_logits import seed_on_logits
from .stage import TUSSStageModel, gt_seeds, kept_classes

# LP, inductive LP and combination seeding (§5.3-5.5): background and the image's classes,
# L1-normalised, background^alpha (O-T1: alpha = 1)
LP_SEEDING = dict(L1=True, norm=True, bypath_suppress=False, bg=dict(method='alpha_bg', alpha=1.))
ALL_CLASS_SEEDING = dict(L1=True, norm=False, bypath_suppress=False,
                         bg=dict(method='alpha_bg', alpha=1.))


def balance(Y: np.ndarray, labelled: np.ndarray, r: Optional[float],
            bg_fg: Optional[str]) -> np.ndarray:
    """Semi supervision's rescaling of the LP input (§6): ``semi_balance`` gives labelled and
    unlabelled rows the shares r/(1+r) and 1/(1+r) of the total T; ``bg_fg_balance='eq'``
    then gives background and foreground columns half of T each."""
    Y = np.array(Y, np.float64)
    total = Y.sum()
    if r is not None:
        for rows, share in ((labelled, r / (1 + r)), (~labelled, 1 / (1 + r))):
            mass = Y[rows].sum()
            if mass > 0:
                Y[rows] *= share * total / mass
    if bg_fg is not None:
        if bg_fg != 'eq':
            raise ValueError(f"bg_fg_balance must be 'eq' or None, got {bg_fg!r}")
        for cols in (slice(0, 1), slice(1, None)):
            mass = Y[:, cols].sum()
            if mass > 0:
                Y[:, cols] *= total / (2 * mass)
    return Y


@MODELS.register_module()
class TUSSLabelPropagationModel(TUSSStageModel):
    """Transductive LP over every mask of the split, then per-image seeding (§5.3).

    The kNN graph of the zero-shot step's embeddings (k = 50, γ = 1, α = 0.9) and the
    propagation of the previous step's scores (Y as stored, zero outside each image's classes)
    are computed once, at the first image, by the first process of a distributed run that gets
    there (the others wait and map the result: :mod:`.lp_graph`); the graph is kept beside the
    zero-shot step's store and reused by LP2 and the combination. Each image's rows are then
    seeded with its own classes.

    Args:
        num_classes: K, background included.
        mask_dir: the SAM masks.
        embeddings_from: the zero-shot step's seed folder.
        scores_from: the seed folder of the step whose scores are Y (zero-shot for LP1, probe1
            for LP2).
        k, gamma, alpha, use_faiss, knn, drop_negative_edges: :class:`LabelPropagation`
            (``knn``: the :class:`KNNIndex` settings, e.g. ``dict(method='ivf')`` for an
            approximate search; ``drop_negative_edges``: negative similarities are no edge, off
            as released).
        seeding: ``seed_on_logits`` settings (``with_bg_logit=True``).
        semi_balance: r of ``semi_balance`` (semi: 1), None to skip.
        bg_fg_balance: 'eq' (semi) or None.
    """

    def __init__(self, num_classes: int, mask_dir: str, embeddings_from: str, scores_from: str,
                 k: int = 50, gamma: float = 1., alpha: float = 0.9,
                 use_faiss: Optional[bool] = None, knn: Optional[Dict] = None,
                 seeding: Optional[Dict] = None, semi_balance: Optional[float] = None,
                 bg_fg_balance: Optional[str] = None, drop_negative_edges: bool = False,
                 data_preprocessor: Optional[Dict] = None) -> None:
        super().__init__(mask_dir, data_preprocessor=data_preprocessor)
        self.num_classes = num_classes
        self.embeddings_from, self.scores_from = embeddings_from, scores_from
        self.k, self.gamma, self.alpha = k, gamma, alpha
        self.drop_negative_edges = drop_negative_edges
        self.knn = knn_settings(use_faiss, knn)
        self.seeding = {**LP_SEEDING, **(seeding or {})}
        self.semi_balance, self.bg_fg_balance = semi_balance, bg_fg_balance
        self._rows: Optional[Dict[str, np.ndarray]] = None

    def solve(self) -> Dict[str, np.ndarray]:
        """Image name -> its masks' propagated scores F (M, K), rows of a memory map."""
        emb_dir, scores_dir = store_dir(self.embeddings_from), store_dir(self.scores_from)
        names = split_names(emb_dir, 'model.embeddings_from')
        if not names:
            return {}
        # an image the previous step could not score (its failed.json) gets no seed here; its
        # masks stay in the graph with empty scores, so the others' seeds do not depend on it
        scored = set(split_names(scores_dir, 'model.scores_from'))
        with_scores = [n for n in names if n in scored]
        if len(with_scores) < len(names):
            print_log(f'{len(names) - len(with_scores)} images of {emb_dir} have no scores in '
                      f'{scores_dir} (see that step\'s failed.json): they get no seed here',
                      logger='current', level=logging.WARNING)
        key = fingerprint(store_fingerprint(emb_dir, names, 'model.embeddings_from'),
                          store_fingerprint(scores_dir, with_scores, 'model.scores_from'),
                          self.k, self.gamma, self.alpha, sorted(self.knn.items()),
                          self.semi_balance, self.bg_fg_balance, self.num_classes,
                          self.drop_negative_edges)
        folder = osp.join(osp.dirname(emb_dir), SCORES_FOLDER, key)
        out = computed_once(folder, lambda: self.propagate(names, with_scores))
        offsets = out['offsets']
        return {name: out['F'][offsets[i]:offsets[i + 1]] for i, name in enumerate(names)
                if name in scored}

    def propagate(self, names: List[str], with_scores: List[str]) -> Dict[str, np.ndarray]:
        """F (N, K) of the split (the shared graph, then CG per class), with names and offsets;
        the rows of images outside ``with_scores`` start from zero scores."""
        emb_dir = store_dir(self.embeddings_from)
        graph = shared_graph(self.embeddings_from, self.k, self.knn)
        if list(graph['names']) != names:
            raise ValueError(f'the kNN graph of {emb_dir} is of other images: remove '
                             f'{osp.join(osp.dirname(emb_dir), "lp_graph")}')
        Y = self.initial_scores(graph['offsets'], names, with_scores)
        labelled = np.zeros(len(Y), bool)
        gt = None
        if self.semi_balance is not None or self.bg_fg_balance is not None:
            gt = load_split(emb_dir, ['scores', 'labelled'], names=names,
                            setting='model.embeddings_from')
            labelled = gt['labelled'].astype(bool)
            Y = balance(Y, labelled, self.semi_balance, self.bg_fg_balance)
        lp = LabelPropagation(None, self.k, self.gamma, self.alpha, graph=graph,
                              drop_negative_edges=self.drop_negative_edges)
        F = lp.propagate(Y)
        if gt is not None:
            F[labelled] = gt['scores'][labelled]  # labelled rows: their GT
        return dict(F=F, names=np.array(names), offsets=np.asarray(graph['offsets']))

    def initial_scores(self, offsets: np.ndarray, names: List[str],
                       with_scores: List[str]) -> np.ndarray:
        """Y (N, K): the previous step's scores of the split's masks, zero for the images it
        did not score."""
        prev = load_split(store_dir(self.scores_from), ['scores'], names=with_scores,
                          setting='model.scores_from')
        if prev['scores'].shape[1:] != (self.num_classes,):
            raise ValueError(f'{self.scores_from}: scores of {prev["scores"].shape[1]} classes, '
                             f'the model has {self.num_classes}: set model.num_classes')
        if len(with_scores) == len(names):
            return prev['scores']
        Y = np.zeros((int(offsets[-1]), self.num_classes), prev['scores'].dtype)
        row = {name: i for i, name in enumerate(names)}
        for j, name in enumerate(with_scores):
            start, end = offsets[row[name]], offsets[row[name] + 1]
            part = prev['scores'][prev['offsets'][j]:prev['offsets'][j + 1]]
            if len(part) != end - start:
                raise ValueError(f'{shard_path(store_dir(self.scores_from), name)}: '
                                 f'{len(part)} masks, the embeddings have {end - start}')
            Y[start:end] = part
        return Y

    def predict(self, inputs, data_samples: List[SegDataSample]) -> List[SegDataSample]:
        if self._rows is None:
            self._rows = self.solve()
        return super().predict(inputs, data_samples)

    def predict_one(self, image, sample: SegDataSample) -> None:
        name = sample.metainfo['img_name']
        for folder in (self.embeddings_from, self.scores_from):
            path = shard_path(store_dir(folder), name)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{path} not found: the step that writes it did not (see its failed.json), '
                    'or ran on another split')
        if name not in self._rows:  # written after this job solved the split
            raise FileNotFoundError(f'{name}: its mask store files appeared after this job '
                                    'started: rerun the same command')
        records, masks = self.load_masks(name)
        emb = load_shard(shard_path(store_dir(self.embeddings_from), name))
        prev = load_shard(shard_path(store_dir(self.scores_from), name))
        scores = torch.from_numpy(np.array(self._rows[name]))
        if 'labelled' in emb and bool(emb['labelled']):
            seeds = gt_seeds(scores.float())
        else:
            seeds = seed_on_logits(scores, kept_classes(prev['cls_lb']), with_bg_logit=True,
                                   **self.seeding)
        self.finish(sample, masks, records, seeds, carry_labelled(emb))


def combine(s_lp: torch.Tensor, s_probe: torch.Tensor, w_lp: float,
            w_probe: float) -> torch.Tensor:
    """``w_lp·S_lp + w_probe·S_probe``, 0 in every column where either term is below 1e-8
    (``LinearCombineClassifier`` with suppression, §5.5)."""
    lp, probe = w_lp * s_lp, w_probe * s_probe
    return torch.where((lp < 1e-8) | (probe < 1e-8), torch.zeros_like(lp), lp + probe)


@MODELS.register_module()
class TUSSCombinationModel(TUSSLinearProbe):
    """``comb_lp_probe`` (§5.4-5.5): the probe's and label propagation's scores of each mask,
    combined and seeded. The probe weights come from ``load_from`` (a trained probe2).

    Label propagation is inductive (new images, e.g. val: each mask's k̄ nearest training
    masks, their LP seeding scores Y* and the training graph's degrees) or, with
    ``lp_scores_from``, the stored transductive LP scores of the same images (S5 on train).

    Args:
        train_embeddings_from, train_scores_from: the training split's zero-shot step and LP2
            step seed folders (inductive LP).
        lp_scores_from: an LP step's seed folder over these images (transductive).
        k_bar, k, gamma: inductive neighbours (50), the training graph's k (50) and γ (1).
        drop_negative_edges: negative similarities are no edge, in the training graph's
            degrees and for new masks (off, as released: :func:`inductive_propagation`).
        knn: :class:`KNNIndex` settings of the training graph (as LP's, to reuse its graph) and
            of the one index all new images search.
        w_lp, w_probe: combination weights (O-T2: 2 and 1).
        probe_seeding, lp_seeding, seeding: ``seed_on_logits`` of each classifier and of the
            combination.
        other arguments: :class:`TUSSLinearProbe`'s; ``scores_from`` gives each image's
            classes (for new images: an open-vocabulary zero-shot step, all classes).
    """

    def __init__(self, num_classes: int, train_embeddings_from: Optional[str] = None,
                 train_scores_from: Optional[str] = None, lp_scores_from: Optional[str] = None,
                 k_bar: int = 50, k: int = 50, gamma: float = 1.,
                 use_faiss: Optional[bool] = None, knn: Optional[Dict] = None,
                 drop_negative_edges: bool = False, w_lp: float = 2., w_probe: float = 1.,
                 probe_seeding: Optional[Dict] = None, lp_seeding: Optional[Dict] = None,
                 seeding: Optional[Dict] = None, **kwargs) -> None:
        super().__init__(num_classes, seeding=probe_seeding, **kwargs)
        if lp_scores_from is None and not (train_embeddings_from and train_scores_from):
            raise ValueError('TUSSCombinationModel needs model.lp_scores_from (transductive) or '
                             'model.train_embeddings_from and model.train_scores_from')
        self.train_embeddings_from, self.train_scores_from = (train_embeddings_from,
                                                              train_scores_from)
        self.lp_scores_from = lp_scores_from
        self.k_bar, self.k, self.gamma = k_bar, k, gamma
        self.knn = knn_settings(use_faiss, knn)
        self.drop_negative_edges = drop_negative_edges
        self.w_lp, self.w_probe = w_lp, w_probe
        self.lp_seeding = {**ALL_CLASS_SEEDING, **(lp_seeding or {})}
        self.comb_seeding = {**ALL_CLASS_SEEDING, **(seeding or {})}
        self._train = None

    def train_graph(self):
        """(index over the training X, degrees, Y*) of the training split, at the first image:
        the shared graph of LP (computed if missing) gives the degrees; one index serves every
        new image."""
        if self._train is None:
            graph = shared_graph(self.train_embeddings_from, self.k, self.knn,
                                 'model.train_embeddings_from')
            y_star = load_split(store_dir(self.train_scores_from), ['scores'],
                                names=list(graph['names']), setting='model.train_scores_from')
            degrees = graph_degrees(graph, self.gamma, self.drop_negative_edges)
            self._train = (KNNIndex(graph['X'], **self.knn), degrees, y_star['scores'])
        return self._train

    def lp_scores(self, name: str, embeddings: np.ndarray, fg_cls: List[int]) -> torch.Tensor:
        """(M, K) label-propagation seeding scores of an image's masks."""
        if self.lp_scores_from is not None:
            shard = load_shard(shard_path(store_dir(self.lp_scores_from), name),
                               'model.lp_scores_from')
            return torch.from_numpy(shard['scores']).double()
        X, degrees, y_star = self.train_graph()
        y = inductive_propagation(embeddings, X, degrees, y_star, self.k_bar, self.k,
                                  drop_negative_edges=self.drop_negative_edges)
        seeds = seed_on_logits(torch.from_numpy(y), fg_cls, with_bg_logit=True,
                               **self.lp_seeding)
        return seeds.full_scores(self.num_classes).double()

    def predict_one(self, image, sample: SegDataSample) -> None:
        name = sample.metainfo['img_name']
        records, masks = self.load_masks(name)
        emb, prev = self.image_scores(name)
        fg_cls = kept_classes(prev['cls_lb'])
        with torch.no_grad():
            logits = self.logits(torch.from_numpy(emb['embeddings']).to(
                self.scale.device)).cpu()
        s_probe = seed_on_logits(logits, fg_cls, with_bg_logit=True,
                                 **self.seeding).full_scores(self.num_classes).double()
        s_lp = self.lp_scores(name, emb['embeddings'], fg_cls)
        combined = combine(s_lp, s_probe, self.w_lp, self.w_probe)
        seeds = seed_on_logits(combined, fg_cls, with_bg_logit=True, **self.comb_seeding)
        self.finish(sample, masks, records, seeds, carry_labelled(emb))


def knn_settings(use_faiss: Optional[bool], knn: Optional[Dict]) -> Dict:
    """:class:`KNNIndex` settings from a model's ``knn`` and its older ``use_faiss`` switch."""
    knn = {'method': 'auto', **(knn or {})}
    if use_faiss is not None:
        knn['method'] = 'faiss' if use_faiss else 'exact'
    return knn
