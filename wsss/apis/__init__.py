"""Plain functions that the tools and the demo call."""
from .config import (USER_ERRORS, add_common_args, amp_needs_cuda, build_runner, check_inputs,
                     close_distributed, enable_amp, load_config, run_main, use_image_batches)
from .inference import (StageOneResult, dataset_classes, init_stage_one, match_classes,
                        seed_image)

__all__ = ['USER_ERRORS', 'add_common_args', 'amp_needs_cuda', 'build_runner', 'check_inputs',
           'close_distributed', 'enable_amp', 'load_config', 'run_main', 'StageOneResult',
           'dataset_classes', 'init_stage_one', 'match_classes', 'seed_image', 'use_image_batches']
