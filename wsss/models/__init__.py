"""Stage-one models: the CLIP adapter, CAMs, prompts, losses, seeders, SAM masks, CLIP-ES and
FMA-WSSS."""
from . import losses  # noqa: F401  (registers the losses)
from .sam.model import SAMMaskModel
from .stage_one import CLIPCAMModel, FMAPromptModel

__all__ = ['CLIPCAMModel', 'FMAPromptModel', 'SAMMaskModel']
