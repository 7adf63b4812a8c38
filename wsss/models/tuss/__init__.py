"""TUSS (Yang & Gong, arXiv 2405.14294): SAM masks classified by DBA-CLIP mask embeddings and a
global-local consistent classifier (GLCC). docs/tuss.md §1-6. The mask store the steps share is
a file format (wsss.io.mask_store); the probe's data and samplers live in wsss.datasets."""
from .glcc import TUSSCombinationModel, TUSSLabelPropagationModel, balance, combine
from .knn import KNNIndex
from .label_propagation import LabelPropagation, inductive_propagation, knn_search, neighbour_graph
from .linear_probe import TUSSLinearProbe, area_weighted_loss
from .seed_on_logits import MaskSeeds, seed_on_logits
from .stage import TUSSStageModel, gt_seeds, gt_vote_fractions
from .zero_shot import TUSSZeroShotModel

__all__ = ['TUSSCombinationModel', 'TUSSLabelPropagationModel', 'balance', 'combine',
           'KNNIndex', 'LabelPropagation', 'inductive_propagation', 'knn_search',
           'neighbour_graph', 'TUSSLinearProbe', 'area_weighted_loss', 'MaskSeeds',
           'seed_on_logits', 'TUSSStageModel', 'gt_seeds', 'gt_vote_fractions',
           'TUSSZeroShotModel']
