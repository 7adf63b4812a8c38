"""Stage-one models: the CLIP adapter, CAMs, seeders and the CLIP-ES model."""
from .stage_one import CLIPCAMModel

__all__ = ['CLIPCAMModel']
