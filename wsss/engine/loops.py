"""A test loop for jobs that must not stop at a bad image (stage-two ``--format-only``)."""
from typing import Sequence

import torch
from mmengine.runner import TestLoop
from mmengine.structures import BaseDataElement

from ..registry import LOOPS


def _failed(sample) -> bool:
    return isinstance(sample, BaseDataElement) and 'load_error' in sample.metainfo


@LOOPS.register_module()
class SkipFailedTestLoop(TestLoop):
    """mmengine's TestLoop where the samples the loader could not decode
    (``LoadImage(record_errors=True)`` and :class:`wsss.datasets.SkipIfFailed`) skip the model
    and go to the evaluator as they are, which lists them (:class:`ImageJobWriter`)."""

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        samples: Sequence = data_batch['data_samples']
        failed = [i for i, s in enumerate(samples) if _failed(s)]
        if not failed:
            return super().run_iter(idx, data_batch)
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        good = [i for i in range(len(samples)) if i not in failed]
        outputs = list(samples)
        if good:
            batch = dict(inputs=[data_batch['inputs'][i] for i in good],
                         data_samples=[samples[i] for i in good])
            for i, out in zip(good, self.runner.model.test_step(batch)):
                outputs[i] = out
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)
