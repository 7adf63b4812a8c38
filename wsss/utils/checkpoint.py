"""Loading mmengine checkpoints under torch >= 2.6, whose ``torch.load`` defaults to
``weights_only=True``.

The Runner's checkpoints hold, besides tensors, numpy arrays and scalars and mmengine objects (the
message hub's HistoryBuffer, ConfigDict): the safe unpickler refuses them, so ``--resume`` and
``load_from`` fail. Rather than turning the safe unpickler off, the local-file loader of mmengine's
CheckpointLoader is replaced by one that allows exactly those types, and nothing else.
"""
import importlib
import os.path as osp
import pickle
from typing import Any, List

import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

# (module, name) of the non-tensor types an mmengine Runner checkpoint holds.
_ALLOWED = (
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('mmengine.config.config', 'ConfigDict'),
    ('collections', 'OrderedDict'),
    ('builtins', 'slice'),
)


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``getattr`` when unpickling: a HistoryBuffer pickles its statistics methods
    as ``getattr(HistoryBuffer, 'mean')``; a general getattr would reach any method of any
    allowed class (``ndarray.tofile`` writes files), so only those lookups are answered."""
    if obj is HistoryBuffer and (name in ('min', 'max', 'current', 'mean')
                                 or name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'checkpoint asks for getattr({obj!r}, {name!r}): refused')


def allowed_globals() -> List[Any]:
    """The allowed objects that exist in this environment (numpy 1 and 2 name modules apart),
    plus numpy's concrete dtype classes (``numpy.dtypes.Float64DType`` and the like)."""
    out: List[Any] = [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')]
    for module, name in _ALLOWED:
        try:
            out.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    try:
        import numpy.dtypes as np_dtypes
        out += [getattr(np_dtypes, n) for n in dir(np_dtypes) if n.endswith('DType')]
    except ImportError:
        pass
    return out


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (truncated, damaged); the message names it."""


def load_local_checkpoint(filename: str, map_location=None) -> Any:
    """mmengine's local checkpoint loader, with the safe unpickler and the allowlist above. A
    file that is not a readable checkpoint (cut short by a kill or a full disk while it was
    saved or copied, damaged) raises :class:`CheckpointError` naming it."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} not found')
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load raises many types on a damaged file
        if isinstance(e, pickle.UnpicklingError) and (
                'unsupported global' in str(e).lower() or 'refused' in str(e)):
            raise  # a type outside the allowlist: not damage
        raise CheckpointError(_unreadable(filename, e)) from e


def _unreadable(filename: str, error: Exception) -> str:
    reason = str(error).strip().split('. ')[0] or type(error).__name__
    return (f'cannot read checkpoint {filename} ({reason}): it is truncated or damaged; '
            're-download or retrain it')


def install_checkpoint_loader() -> None:
    """Make mmengine (Runner resume, load_from, load_checkpoint) load local files as above."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
