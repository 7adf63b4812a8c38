"""FMA-WSSS (docs/fma_wsss.md): CoOp prompts (``prompts``) learned over CLIP-ES's CAMs with the
classification and CAM-activation losses (``losses``) by the prompt model (``model``); its seeds
come from SAMS (wsss.models.seeders.sams)."""
from . import losses  # noqa: F401  (registers the losses)
from .model import FMA_RELEASED, FMAPromptModel
from .prompts import PromptLearner

__all__ = ['FMA_RELEASED', 'FMAPromptModel', 'PromptLearner']
