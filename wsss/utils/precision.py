"""TF32 on CUDA for the seed job: an opt-in setting (config key ``tf32``), on in the ``*_clean``
configs, off in the reproduction configs (README: Performance)."""
import torch


def use_tf32(enabled: bool) -> None:
    """With ``enabled``, float32 matrix products and cuDNN convolutions on CUDA (Ampere and
    newer) run in TF32: inputs rounded to a 10-bit mantissa, float32 sums, several times
    float32's speed on tensor cores. Otherwise PyTorch's defaults stay: float32 matrix products,
    the arithmetic the reproduction configs' parity checks are made on (cuDNN may use TF32 for
    convolutions by PyTorch's default; CLIP's only one is its patch embedding). No effect on a
    CPU."""
    if enabled:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
