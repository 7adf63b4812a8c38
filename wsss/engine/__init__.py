"""mmengine extensions: hooks, model wrappers and a Runner with a quiet console."""
from .hooks import ClassCountCheckHook, ProgressBarHook, check_class_count
from .loops import SkipFailedTestLoop
from .runner import ConsoleRunner
from .wrappers import InferenceWrapper

__all__ = ['ConsoleRunner', 'ClassCountCheckHook', 'ProgressBarHook', 'InferenceWrapper',
           'check_class_count', 'SkipFailedTestLoop']
