"""mmengine extensions: hooks and model wrappers."""
from .hooks import ClassCountCheckHook, ProgressBarHook, check_class_count
from .loops import SkipFailedTestLoop
from .wrappers import InferenceWrapper

__all__ = ['ClassCountCheckHook', 'ProgressBarHook', 'InferenceWrapper', 'check_class_count',
           'SkipFailedTestLoop']
