"""SAM automatic masks (FMA-WSSS's quasi-superpixels): building SAM, the level-aware generator and
the mmengine model that runs the generator in a test loop (their file format:
wsss.io.sam_masks)."""
from .build import SAM_TYPES, build_sam, sam_from_cfg
from .generator import (
                        LEVEL_NAMES,
                        LevelAwareMaskGenerator,
                        finish_masks,
                        level_scores,
                        pack_dense,
                        rock_sand_water_keep,
                        unpack_dense,
)
from .model import SAMMaskModel

__all__ = ['SAM_TYPES', 'build_sam', 'sam_from_cfg', 'LEVEL_NAMES', 'LevelAwareMaskGenerator',
           'level_scores', 'rock_sand_water_keep', 'SAMMaskModel', 'finish_masks',
           'pack_dense', 'unpack_dense']
