"""TUSS's probe training data (docs/tuss.md §5): every SAM mask of a split with its soft label."""
from typing import Dict, List

import numpy as np
import torch
from torch.utils.data import Dataset

from ..io.mask_store import load_shard, load_split, shard_path, store_dir
from ..registry import DATASETS


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
