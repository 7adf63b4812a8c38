"""Stage-two segmentors beyond mmseg's: test-time refinement with the dense CRF."""
from .dense_crf_tta import DenseCRFTestModel

__all__ = ['DenseCRFTestModel']
