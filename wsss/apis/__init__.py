"""Plain functions that the tools and the demo call."""
from .config import (
                     USER_ERRORS,
                     add_common_args,
                     add_dataset_args,
                     amp_needs_cuda,
                     build_runner,
                     check_inputs,
                     close_distributed,
                     dataset_config_from_args,
                     enable_amp,
                     load_config,
                     run_main,
                     set_data_root,
                     use_image_batches,
)
from .inference import StageOneResult, dataset_classes, init_stage_one, match_classes, seed_image

__all__ = ['USER_ERRORS', 'add_common_args', 'add_dataset_args', 'dataset_config_from_args',
           'set_data_root', 'amp_needs_cuda', 'build_runner', 'check_inputs',
           'close_distributed', 'enable_amp', 'load_config', 'run_main', 'StageOneResult',
           'dataset_classes', 'init_stage_one', 'match_classes', 'seed_image', 'use_image_batches']
