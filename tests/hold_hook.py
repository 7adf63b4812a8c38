"""A hook that holds a tool's test loop at a known point, so that a test kills the run there
however loaded the machine is (conftest.kill_when_written); imported by the tools the tests start
(``custom_imports``), with tests/ on their PYTHONPATH."""
import os.path as osp
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class HoldAfterIters(Hook):
    """After ``iters`` test iterations, wait for as long as ``while_file`` exists."""

    def __init__(self, iters: int, while_file: str):
        self.iters, self.while_file = iters, while_file

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        while batch_idx + 1 == self.iters and osp.exists(self.while_file):
            time.sleep(0.05)
