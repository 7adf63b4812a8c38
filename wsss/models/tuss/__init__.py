"""TUSS (Yang & Gong, arXiv 2405.14294): SAM masks classified by DBA-CLIP mask embeddings and a
global-local consistent classifier (GLCC). docs/tuss.md §1-6."""
from .glcc import TUSSCombinationModel, TUSSLabelPropagationModel, balance, combine
from .knn import KNNIndex
from .label_propagation import (LabelPropagation, inductive_propagation, knn_search,
                                neighbour_graph)
from .linear_probe import (GlobalBatchSampler, MaskEmbeddingDataset, SemiBalanceSampler,
                           TUSSLinearProbe, area_weighted_loss, soft_labels)
from .mask_store import (PendingMaskStoreSampler, load_split, save_shard, shard_path,
                         store_dir)
from .seed_on_logits import MaskSeeds, seed_on_logits
from .stage import TUSSStageModel, gt_seeds, gt_vote_fractions
from .zero_shot import TUSSZeroShotModel

__all__ = ['TUSSCombinationModel', 'TUSSLabelPropagationModel', 'balance', 'combine',
           'KNNIndex', 'LabelPropagation', 'inductive_propagation', 'knn_search',
           'neighbour_graph', 'GlobalBatchSampler', 'MaskEmbeddingDataset', 'SemiBalanceSampler',
           'TUSSLinearProbe', 'area_weighted_loss', 'soft_labels', 'PendingMaskStoreSampler',
           'load_split', 'save_shard',
           'shard_path', 'store_dir', 'MaskSeeds', 'seed_on_logits', 'TUSSStageModel',
           'gt_seeds', 'gt_vote_fractions', 'TUSSZeroShotModel']
