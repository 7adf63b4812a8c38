"""CLIP-ES (Lin et al., CVPR 2023; docs/clip_es.md): softmax-GradCAM of a frozen CLIP, refined by
class-aware attention affinity (``cam``), the model that runs it over a split (``model``) and the
sharpness-based prompt selection (``prompt_selection``)."""
from .model import CLIPCAMModel, same_size_groups

__all__ = ['CLIPCAMModel', 'same_size_groups']
