"""Weights-only checkpoint loading for mmengine runs on torch >= 2.6.

torch >= 2.6 loads checkpoints with ``weights_only=True``: only tensors,
containers and allowlisted globals may be unpickled, so a checkpoint cannot run
code. mmengine 0.10.7 checkpoints carry a little more than weights (the message
hub's ``HistoryBuffer``, numpy arrays and scalars, a ``Counter`` of scheduler
milestones), and ``HistoryBuffer`` pickles its statistics functions through
``builtins.getattr``, which must never be allowlisted (``getattr`` on an
unpickled object reaches ``os.system`` and friends).

:func:`enable_safe_checkpoints` (run when ``sa_mmdet`` is imported) therefore

1. allowlists exactly the harmless globals mmengine checkpoints need;
2. makes ``HistoryBuffer`` pickle without its statistics functions (they are
   class-level registrations, restored on load), so new checkpoints hold no
   ``getattr``;
3. replaces mmengine's local-file loader by one that keeps weights-only on and
   explains how to re-save a checkpoint it refuses.

:func:`resave_checkpoint` re-saves an older checkpoint without ``getattr``
while weights-only loading stays on: its ``getattr`` calls are answered by a
stub that returns ``None``, so nothing in the file is ever executed.
"""
import collections
import os.path as osp
import pickle
from typing import Any, Callable, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

_enabled = False


def mmengine_checkpoint_globals() -> List[Any]:
    """Globals an mmengine checkpoint needs beyond torch's default allowlist.

    All of them only build data: numpy arrays, dtypes and scalars, a
    ``Counter`` and mmengine's ``HistoryBuffer`` (whose state is restored as
    plain attributes).

    Returns:
        list: Objects for :func:`torch.serialization.add_safe_globals`.
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(code)) for code in np.typecodes['All'] if code != 'O']
    return [
        HistoryBuffer,
        collections.Counter,
        collections.OrderedDict,
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *sorted(set(dtype_classes), key=lambda cls: cls.__name__),
    ]


def _history_buffer_getstate(self: HistoryBuffer) -> dict:
    """Pickle a ``HistoryBuffer`` without its statistics functions."""
    return {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}


def _history_buffer_setstate(self: HistoryBuffer, state: dict) -> None:
    """Restore a ``HistoryBuffer``; only callables may register statistics."""
    state = dict(state)
    methods = state.pop('statistics_methods', {})
    self._set_default_statistics()
    self._statistics_methods.update(
        {name: method for name, method in methods.items() if callable(method)})
    self.__dict__.update(state)


def _refusal_message(filename: str, error: Exception) -> str:
    return (
        f'torch refused to load {filename!r} with weights_only=True '
        f'({type(error).__name__}: {str(error).splitlines()[0]}). sa_mmdet '
        'keeps weights-only loading on so that a checkpoint cannot run code. '
        'A checkpoint written by an mmengine run that did not import sa_mmdet '
        'pickles functions through builtins.getattr; re-save it safely with '
        '`python tools/misc/resave_checkpoint.py SRC DST` (weights-only stays '
        'on) and use DST. Only if you trust the file and its origin, load it '
        'yourself with torch.load and its weights_only argument, then '
        'torch.save it again after `import sa_mmdet`.')


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's local checkpoint loader with weights-only kept on.

    Args:
        filename (str): Path of the checkpoint.
        map_location (Any): Same as :func:`torch.load`. Defaults to None.

    Returns:
        Any: The loaded checkpoint.

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
        pickle.UnpicklingError: If the file needs a global that is not
            allowlisted; the message says how to re-save it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(_refusal_message(filename, error)) from error


def _getattr_stub(obj: Any, name: str) -> None:
    """Stands in for ``builtins.getattr`` while re-saving: executes nothing."""
    return None


def resave_checkpoint(src: str, dst: str) -> List[str]:
    """Re-save an mmengine checkpoint so that weights-only loading accepts it.

    ``builtins.getattr`` calls in ``src`` (how older ``HistoryBuffer`` objects
    pickle their statistics functions) are answered by a stub returning
    ``None``; every other global must already be allowlisted, so nothing in
    the file is executed. Statistics functions are class-level in mmengine and
    come back on load.

    Args:
        src (str): Checkpoint to read.
        dst (str): Path to write.

    Returns:
        list[str]: Globals of ``src`` that weights-only loading refused before.
    """
    enable_safe_checkpoints()
    refused = torch.serialization.get_unsafe_globals_in_checkpoint(src)
    with torch.serialization.safe_globals([(_getattr_stub, 'builtins.getattr')]):
        checkpoint = torch.load(src, map_location='cpu', weights_only=True)
    torch.save(checkpoint, dst)
    return refused


def enable_safe_checkpoints() -> None:
    """Make mmengine checkpoints load with weights-only on. Idempotent."""
    global _enabled
    if _enabled:
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    HistoryBuffer.__setstate__ = _history_buffer_setstate
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    _enabled = True
