"""Stage-one models: the CLIP adapter, CAMs, prompts, losses, seeders, SAM masks, CLIP-ES,
FMA-WSSS, TUSS and the relevancy seeder; and for stage two the decode head mmseg lacks
(DeepLab-v2's ASPP) and the model that refines test predictions with the dense CRF."""
from . import losses  # noqa: F401  (registers the losses)
from .decode_heads import ASPPV2Head
from .relevancy import CLIPRelevancyModel
from .sam.model import SAMMaskModel
from .stage_one import CLIPCAMModel, FMAPromptModel
from .test_time import DenseCRFTestModel
from .tuss import (TUSSCombinationModel, TUSSLabelPropagationModel, TUSSLinearProbe,
                   TUSSZeroShotModel)

__all__ = ['ASPPV2Head', 'CLIPCAMModel', 'CLIPRelevancyModel', 'DenseCRFTestModel',
           'FMAPromptModel', 'SAMMaskModel', 'TUSSCombinationModel', 'TUSSLabelPropagationModel',
           'TUSSLinearProbe', 'TUSSZeroShotModel']
