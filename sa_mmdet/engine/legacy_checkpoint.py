"""Re-save mmengine checkpoints written without the weights-only hook.

They are read with weights-only loading still on, with stand-ins allowed for
this one load only: ``builtins.getattr`` becomes a stub that executes nothing,
and numpy arrays and scalars are rebuilt from their bytes for numeric dtypes
only (an object array would let the file choose raw pointers).
"""

import collections
import math
import pickle
from typing import Any, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from ..utils import check_output_path, checkpoint_file_errors, save_atomically
from .weights_only import to_weights_only

_NUMPY_MODULES = ('numpy._core.multiarray', 'numpy.core.multiarray')


class _DtypeState:
    """Stands for ``numpy.dtype(code, align, copy)``: keeps the code and byte order."""

    def __init__(self, code: Any, align: Any = False, copy: Any = True) -> None:
        self.code = code
        self.byteorder = '='

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ('<', '>', '|', '='):
            self.byteorder = state[1]

    def numpy(self) -> np.dtype:
        try:
            dtype = np.dtype(str(self.code))
        except TypeError as error:
            raise pickle.UnpicklingError(f'unknown numpy dtype {self.code!r}') from error
        if dtype.kind not in 'biufc':
            raise pickle.UnpicklingError(
                f'refusing a numpy array or scalar of dtype {dtype}: only numeric dtypes are read'
            )
        return dtype.newbyteorder(self.byteorder) if self.byteorder in '<>' else dtype


class _NdarrayType:
    """Stands for the ``numpy.ndarray`` argument of ``_reconstruct``; refuses to be called."""

    def __init__(self, *args: Any) -> None:
        raise pickle.UnpicklingError(
            'refusing numpy.ndarray(shape, dtype, buffer) in the checkpoint: an array built '
            'from raw bytes; numpy arrays are read only as numpy pickles them'
        )


class _ArrayState:
    """Stands for ``numpy...multiarray._reconstruct(ndarray, shape, typecode)``."""

    def __init__(self, cls: Any = None, shape: Any = (0,), typecode: Any = b'b') -> None:
        self.array = None

    def __setstate__(self, state: Any) -> None:
        _, shape, dtype, is_fortran, data = state
        if not isinstance(dtype, _DtypeState):
            raise pickle.UnpicklingError('malformed numpy array in the checkpoint')
        dtype = dtype.numpy()  # first: an object array's data is a list, not bytes
        if not isinstance(data, bytes):
            raise pickle.UnpicklingError('malformed numpy array in the checkpoint')
        shape = tuple(int(n) for n in shape)
        if len(data) != math.prod(shape) * dtype.itemsize:
            raise pickle.UnpicklingError(
                f'numpy array of shape {shape} and dtype {dtype} with {len(data)} bytes'
            )
        array = np.frombuffer(data, dtype=dtype)
        self.array = array.reshape(shape, order='F' if is_fortran else 'C').copy()


def _scalar(dtype: Any, data: Any) -> np.generic:
    """Stands for ``numpy...multiarray.scalar(dtype, bytes)``."""
    if not isinstance(dtype, _DtypeState) or not isinstance(data, bytes):
        raise pickle.UnpicklingError('malformed numpy scalar in the checkpoint')
    dtype = dtype.numpy()
    if len(data) != dtype.itemsize:
        raise pickle.UnpicklingError(f'numpy scalar of dtype {dtype} with {len(data)} bytes')
    return np.frombuffer(data, dtype=dtype)[0]


class _HistoryBufferState:
    """Stands for mmengine's ``HistoryBuffer``: keeps its attribute dict."""

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}


def _getattr_stub(obj: Any, name: str) -> None:
    """Stands for ``builtins.getattr`` (statistics functions): executes nothing."""
    return None


STAND_INS = [
    (_getattr_stub, 'builtins.getattr'),
    (_HistoryBufferState, 'mmengine.logging.history_buffer.HistoryBuffer'),
    (_DtypeState, 'numpy.dtype'),
    (_NdarrayType, 'numpy.ndarray'),
    _ArrayState,
    collections.Counter,
    *((_ArrayState, f'{module}._reconstruct') for module in _NUMPY_MODULES),
    *((_scalar, f'{module}.scalar') for module in _NUMPY_MODULES),
]


def _resolve(obj: Any) -> Any:
    """Replace the stand-ins by numpy arrays and ``HistoryBuffer`` objects."""
    if isinstance(obj, _ArrayState):
        return obj.array
    if isinstance(obj, _HistoryBufferState):
        state = _resolve(obj.state)
        return HistoryBuffer(
            state.get('_log_history', []),
            state.get('_count_history', []),
            state.get('max_length', 1000000),
        )
    if isinstance(obj, dict):
        # from a mapping: a Counter built from pairs would count the pairs
        return type(obj)({k: _resolve(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        items = [_resolve(v) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def load_legacy_checkpoint(src: str) -> Any:
    """Read an mmengine checkpoint written without the weights-only hook.

    Args:
        src (str): Checkpoint path.

    Returns:
        Any: The checkpoint, with ``HistoryBuffer`` objects and numpy arrays.

    Raises:
        FileNotFoundError: If ``src`` does not exist.
        CheckpointFileError: If it is unreadable, empty, damaged, or not a checkpoint.
        pickle.UnpicklingError: If the file needs anything else.
    """
    allowed = torch.serialization.safe_globals(STAND_INS)
    with checkpoint_file_errors(src, resave_hint=False), allowed:
        checkpoint = torch.load(src, map_location='cpu', weights_only=True)
    return _resolve(checkpoint)


def resave_checkpoint(src: str, dst: str) -> List[str]:
    """Re-save a checkpoint so that weights-only loading reads it as it is.

    Args:
        src (str): Checkpoint to read (see :func:`load_legacy_checkpoint`).
        dst (str): Path to write.

    Returns:
        list[str]: Globals of ``src`` that default weights-only loading refused.

    Raises:
        IsADirectoryError: If ``dst`` is a folder.
        ValueError: If ``dst`` is ``src``.
        FileNotFoundError, CheckpointFileError, pickle.UnpicklingError: As
            :func:`load_legacy_checkpoint`; ``dst`` is left as it was.
    """
    check_output_path(src, dst)
    checkpoint = to_weights_only(load_legacy_checkpoint(src))
    refused = torch.serialization.get_unsafe_globals_in_checkpoint(src)
    save_atomically(checkpoint, dst)
    return refused
