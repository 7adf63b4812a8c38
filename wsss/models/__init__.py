"""Stage-one models: the CLIP adapter, CAMs, prompts, losses, seeders, SAM masks, CLIP-ES,
FMA-WSSS and TUSS; and the stage-two decode head mmseg lacks (DeepLab-v2's ASPP)."""
from . import losses  # noqa: F401  (registers the losses)
from .decode_heads import ASPPV2Head
from .sam.model import SAMMaskModel
from .stage_one import CLIPCAMModel, FMAPromptModel
from .tuss import (TUSSCombinationModel, TUSSLabelPropagationModel, TUSSLinearProbe,
                   TUSSZeroShotModel)

__all__ = ['ASPPV2Head', 'CLIPCAMModel', 'FMAPromptModel', 'SAMMaskModel',
           'TUSSCombinationModel', 'TUSSLabelPropagationModel', 'TUSSLinearProbe',
           'TUSSZeroShotModel']
