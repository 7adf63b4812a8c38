"""Hooks that make misconfigurations fail early and clearly, and show a job's progress."""
import numbers
from typing import Iterator, Optional, Tuple

from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from ..registry import HOOKS
from ..utils.progress import Progress


def _num_classes_of(model) -> Iterator[Tuple[str, int]]:
    """(name, num_classes) of the model and of its mmseg decode heads: the class counts that
    must equal the dataset's (background included)."""
    if is_model_wrapper(model):
        model = model.module
    for name, module in model.named_modules():
        if name and not isinstance(module, BaseDecodeHead):
            continue
        n = getattr(module, 'num_classes', None)
        if isinstance(n, int) and not isinstance(n, bool):
            yield f'model.{name}' if name else 'model', n


def check_class_count(model, classes, config: str, dataset: str) -> None:
    """Raise ValueError naming the config, the model parts and the dataset when a class count of
    ``model`` differs from ``len(classes)`` (background included)."""
    wrong = [f'{name}.num_classes={n}' for name, n in _num_classes_of(model) if n != len(classes)]
    if wrong:
        raise ValueError(f'config {config}: {", ".join(wrong)}, but dataset {dataset} has '
                         f'{len(classes)} classes (background included)')


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Stops a run whose model's class count differs from its dataset's, naming the config file,
    the model part and the dataset, before any iteration is spent."""

    priority = 'VERY_HIGH'

    def _check(self, runner, dataloader) -> None:
        dataset = dataloader.dataset
        classes = dataset.metainfo.get('classes')
        if classes is not None:
            check_class_count(runner.model, classes, runner.cfg.filename, type(dataset).__name__)

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader)

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader)


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Progress on the main process's console (:class:`wsss.utils.progress.Progress`): the test
    loop in images (seeds, SAM masks, stage-two tests; a resumed seed job first says how many
    images were done before), training in iterations (a resumed one from where it stopped),
    and each validation's numbers as one line.

    Distributed, the bar counts the main process's images times the number of processes.
    """

    priority = 'LOW'

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval  # seconds between lines where the console is not a terminal
        self.bar: Optional[Progress] = None

    def before_train(self, runner) -> None:
        self.bar = Progress(runner.max_iters, 'train', 'iterations', done=runner.iter,
                            interval=self.interval, enabled=is_main_process())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.bar.update()

    def after_val_epoch(self, runner, metrics=None) -> None:
        line = f'val at iteration {runner.iter}: ' + ', '.join(
            f'{k} {float(v):.2f}' if isinstance(v, numbers.Real) else f'{k} {v}'
            for k, v in (metrics or {}).items())
        if self.bar is not None:
            self.bar.write(line)
        elif is_main_process():
            print(line, flush=True)

    def after_train(self, runner) -> None:
        self.bar.close()
        self.bar = None

    def before_test_epoch(self, runner) -> None:
        loader = runner.test_dataloader
        total = len(loader.dataset)
        pending = getattr(loader.sampler, 'pending', None)
        done = total - len(pending) if pending is not None else 0
        self.test_bar = Progress(total, _test_name(runner), done=done, interval=self.interval,
                                 enabled=is_main_process())

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        images = len(outputs) if outputs is not None else 1
        self.test_bar.update(images * get_world_size())

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.test_bar.close()


def _test_name(runner) -> str:
    """What the test loop makes, for the bar: seeds, SAM masks or a stage-two test."""
    evaluator = runner.cfg.get('test_evaluator', {})
    kind = evaluator.get('type', '') if isinstance(evaluator, dict) else ''
    return dict(SeedWriter='seeds', SAMMaskWriter='SAM masks', MaskStoreWriter='seeds',
                PredictionWriter='predictions').get(kind, 'test')
