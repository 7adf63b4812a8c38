"""The on-disk formats of wsss, one module each, each stating its format: seeds and label maps
(``seeds``), CAM files (``cams``), SAM masks (``sam_masks``), the TUSS mask store
(``mask_store``); with the one atomic write every file goes through, the one image-size function,
and the checks a resumed job and a reader make on what they find."""
from .atomic import DiskFullError, atomic_write, free_space, remove_stale_temp_files
from .verify import DamagedFileError, incomplete, remake_hint

__all__ = ['DiskFullError', 'atomic_write', 'free_space', 'remove_stale_temp_files',
           'DamagedFileError', 'incomplete', 'remake_hint']
