"""Utilities: module registration, checkpoint loading and pretrained weights."""
from .checkpoint import install_checkpoint_loader
from .setup_env import register_all_modules
from .weights import find_weights, resolve_pretrained

__all__ = ['register_all_modules', 'install_checkpoint_loader', 'find_weights',
           'resolve_pretrained']
