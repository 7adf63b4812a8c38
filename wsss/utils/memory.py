"""Telling an out-of-memory failure of one image from a bug, so a long job can list the image in
failed.json and go on."""
import torch


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure: CUDA's ``OutOfMemoryError``, Python's
    ``MemoryError`` or the CPU allocator's ``RuntimeError`` ("can't allocate memory")."""
    if isinstance(error, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and ('out of memory' in message
                                                or "can't allocate memory" in message)


def out_of_memory_reason(img_path: str, size: tuple, setting: str) -> str:
    """The failed.json reason of an image that ran out of memory at ``size`` (H, W)."""
    return (f'{img_path}: out of memory at {size[1]}x{size[0]} (WxH); lower {setting} to '
            'seed it on this machine')
