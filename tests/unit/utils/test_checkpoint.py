import os
import pickle
import re

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from wsss.utils.checkpoint import install_checkpoint_loader, load_local_checkpoint


def test_runner_style_checkpoint_loads_through_mmengine(tmp_path):
    buf = HistoryBuffer()
    buf.update(0.5)
    ckpt = {
        'meta': {'iter': 7, 'seed': np.int64(3), 'dataset_meta': {'palette': np.zeros((2, 3))}},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': {'log_scalars': {'train/loss': buf}},
    }
    path = str(tmp_path / 'iter_7.pth')
    torch.save(ckpt, path)
    loaded = _load_checkpoint(path, map_location='cpu')  # what Runner.resume / load_from call
    assert loaded['meta']['iter'] == 7 and int(loaded['meta']['seed']) == 3
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5
    torch.testing.assert_close(loaded['state_dict']['w'], torch.ones(2))


class _Exploit:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_arbitrary_objects_are_still_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'x': _Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_local_checkpoint(path)


def test_missing_checkpoint_names_the_file(tmp_path):
    """mmengine's checkpoint loading goes through wsss's loader, whose message this is."""
    install_checkpoint_loader()
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match=f'^checkpoint {re.escape(path)} not found$'):
        _load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match=f'^checkpoint {re.escape(path)} not found$'):
        load_local_checkpoint(path)


class _GetattrExploit:
    """Pickles as getattr(np.ndarray, 'tofile'): a general getattr would hand this out."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_is_only_answered_for_history_buffer(tmp_path):
    path = str(tmp_path / 'evil2.pth')
    torch.save({'x': _GetattrExploit()}, path)
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        load_local_checkpoint(path)
