"""Plain functions that the tools and the demo call."""
from .config import add_common_args, amp_needs_cuda, enable_amp, load_config

__all__ = ['add_common_args', 'amp_needs_cuda', 'enable_amp', 'load_config']
