"""On-disk formats of wsss: one atomic write for every file, and the checks a resumed job and a
reader make on what it finds."""
from .atomic import DiskFullError, atomic_write, free_space, remove_stale_temp_files
from .verify import DamagedFileError, incomplete, remake_hint

__all__ = ['DiskFullError', 'atomic_write', 'free_space', 'remove_stale_temp_files',
           'DamagedFileError', 'incomplete', 'remake_hint']
