"""mmengine extensions: hooks and model wrappers."""
from .hooks import ClassCountCheckHook, ProgressBarHook
from .wrappers import InferenceWrapper

__all__ = ['ClassCountCheckHook', 'ProgressBarHook', 'InferenceWrapper']
