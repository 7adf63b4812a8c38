"""mmengine extensions: hooks."""
from .hooks import ClassCountCheckHook

__all__ = ['ClassCountCheckHook']
