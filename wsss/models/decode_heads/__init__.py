"""Stage-two decode heads beyond mmseg's: DeepLab-v2's ASPP."""
from .aspp_v2_head import ASPPV2Head

__all__ = ['ASPPV2Head']
