"""Utilities: module registration and checkpoint loading."""
from .checkpoint import install_checkpoint_loader
from .setup_env import register_all_modules

__all__ = ['register_all_modules', 'install_checkpoint_loader']
