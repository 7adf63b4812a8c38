"""mmengine's Runner with a quiet console (the environment, config, hook and loss dumps go to
the log file only) and a full disk while saving a checkpoint as one line."""
import logging
import os
import os.path as osp
from contextlib import suppress

from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..io.atomic import DISK_FULL, disk_full_error
from ..registry import RUNNERS


@RUNNERS.register_module()
class ConsoleRunner(Runner):
    """A Runner whose console shows log records from ``console_log_level`` of its config up
    (the tools set ``'WARNING'``, or ``'INFO'`` with ``--verbose``); its log file
    (``<work_dir>/<timestamp>/<timestamp>.log``) keeps everything from ``log_level`` up. The
    progress and the results come from :class:`wsss.engine.ProgressBarHook` and the tools.

    A checkpoint the disk had no room for is removed, not left cut, and the job stops with a
    :class:`wsss.io.DiskFullError` naming it: ``last_checkpoint`` still names the last complete
    one, from which ``--resume`` goes on once there is space."""

    def build_logger(self, log_level='INFO', log_file=None, **kwargs) -> MMLogger:
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        level = self.cfg.get('console_log_level')
        if level:
            for handler in logger.handlers:
                if not isinstance(handler, logging.FileHandler):  # the console's
                    handler.setLevel(max(handler.level, logging._nameToLevel[level]))
        return logger

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        try:
            super().save_checkpoint(out_dir, filename, *args, **kwargs)
        except OSError as e:
            if e.errno not in DISK_FULL:
                raise
            path = osp.join(out_dir, filename)
            with suppress(OSError):
                os.remove(path)
            raise disk_full_error(path) from e
