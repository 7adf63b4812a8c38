"""Models, one home per method: ``clip_es`` (CLIP-ES: GradCAM, CAA, the CAM model), ``fma``
(FMA-WSSS: prompts, losses, the prompt model), ``relevancy`` (relevancy maps and their click
seeder), ``tuss`` (TUSS's steps), ``sam`` (SAM masks), ``seeders`` (the seeder contract and the
CAM seeders); the frozen-CLIP adapter they share in ``clip``; the dense CRF; and for stage two the
decode head mmseg lacks (DeepLab-v2's ASPP) and the segmentor that refines test predictions with
the dense CRF."""
from .clip_es import CLIPCAMModel
from .decode_heads import ASPPV2Head
from .fma import FMAPromptModel
from .relevancy import CLIPRelevancyModel
from .sam.model import SAMMaskModel
from .segmentors import DenseCRFTestModel
from .tuss import (
                   TUSSCombinationModel,
                   TUSSLabelPropagationModel,
                   TUSSLinearProbe,
                   TUSSZeroShotModel,
)

__all__ = ['ASPPV2Head', 'CLIPCAMModel', 'CLIPRelevancyModel', 'DenseCRFTestModel',
           'FMAPromptModel', 'SAMMaskModel', 'TUSSCombinationModel', 'TUSSLabelPropagationModel',
           'TUSSLinearProbe', 'TUSSZeroShotModel']
