"""Plain functions that the tools and the demo call."""
from .config import add_common_args, amp_needs_cuda, enable_amp, load_config
from .inference import (StageOneResult, dataset_classes, init_stage_one, match_classes,
                        seed_image)

__all__ = ['add_common_args', 'amp_needs_cuda', 'enable_amp', 'load_config', 'StageOneResult',
           'dataset_classes', 'init_stage_one', 'match_classes', 'seed_image']
