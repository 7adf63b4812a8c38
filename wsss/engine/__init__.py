"""mmengine extensions: hooks and model wrappers."""
from .hooks import ClassCountCheckHook, ProgressBarHook, check_class_count
from .wrappers import InferenceWrapper

__all__ = ['ClassCountCheckHook', 'ProgressBarHook', 'InferenceWrapper', 'check_class_count']
