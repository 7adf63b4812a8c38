"""Hooks that make misconfigurations fail early and clearly."""
from typing import Iterator, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from ..registry import HOOKS


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
    """A progress bar over the test loop on the main process (seed generation runs for hours on
    big splits; the bar counts the main process's batches and shows the remaining time)."""

    def before_test_epoch(self, runner) -> None:
        self.bar = ProgressBar(len(runner.test_dataloader)) if is_main_process() else None

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update()

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.bar is not None:
            self.bar.file.write('\n')
