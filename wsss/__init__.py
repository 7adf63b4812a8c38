"""wsss: weakly supervised semantic segmentation with frozen CLIP and SAM, on mmengine / mmseg."""
__version__ = '0.1.0'
