"""mmengine's Runner with a quiet console: the environment, config, hook and loss dumps go to
the log file only."""
import logging

from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..registry import RUNNERS


@RUNNERS.register_module()
class ConsoleRunner(Runner):
    """A Runner whose console shows log records from ``console_log_level`` of its config up
    (the tools set ``'WARNING'``, or ``'INFO'`` with ``--verbose``); its log file
    (``<work_dir>/<timestamp>/<timestamp>.log``) keeps everything from ``log_level`` up. The
    progress and the results come from :class:`wsss.engine.ProgressBarHook` and the tools."""

    def build_logger(self, log_level='INFO', log_file=None, **kwargs) -> MMLogger:
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        level = self.cfg.get('console_log_level')
        if level:
            for handler in logger.handlers:
                if not isinstance(handler, logging.FileHandler):  # the console's
                    handler.setLevel(max(handler.level, logging._nameToLevel[level]))
        return logger
