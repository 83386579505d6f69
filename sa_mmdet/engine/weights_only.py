"""mmengine checkpoints as plain data that weights-only ``torch.load`` reads.

mmengine 0.10.7 pickles ``HistoryBuffer`` objects (through ``builtins.getattr``),
numpy data and a ``Counter``. Allowlisting them would widen every load in the
process and let a file choose raw memory, so they are rewritten as tagged dicts.
"""

import logging
from collections import Counter, OrderedDict
from typing import Any, Callable

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

#: Key of the dicts that stand for a non-plain object.
TAG = '__sa_mmdet_type__'
#: Types weights-only loading takes as they are (a bool is an int).
_SCALARS = (str, bytes, int, float, complex, type(None))
_PLAIN = (*_SCALARS, torch.Tensor, torch.dtype, torch.Size, torch.device)


def _rebuilt(obj: Any, convert: Callable[[Any, Any], Any]) -> Any:
    """A dict, list or tuple with ``convert(key, value)`` for each value (OrderedDict stays one)."""
    if isinstance(obj, dict):
        items = ((k, convert(k, v)) for k, v in obj.items())
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    items = [convert(i, v) for i, v in enumerate(obj)]
    return items if isinstance(obj, list) else tuple(items)


def to_weights_only(obj: Any, path: str = 'checkpoint') -> Any:
    """Rewrite ``obj`` into data that weights-only loading accepts.

    ``HistoryBuffer``, numpy arrays and ``Counter`` become tagged dicts, numpy
    scalars Python scalars; anything else unknown is kept, with a warning.

    Args:
        obj (Any): A checkpoint or part of one.
        path (str): Where ``obj`` sits, for the log. Defaults to 'checkpoint'.

    Returns:
        Any: A rewritten copy (leaves that need no change are shared).
    """
    if isinstance(obj, np.generic):  # before the plain types: np.float64 is a float
        return obj.item()
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, HistoryBuffer):
        log, count = (array.tolist() for array in obj.data)
        return {TAG: 'HistoryBuffer', 'log': log, 'count': count, 'max_length': obj.max_length}
    if isinstance(obj, np.ndarray):
        return {TAG: 'ndarray', 'data': to_weights_only(obj.tolist(), path), 'dtype': obj.dtype.str}
    if isinstance(obj, Counter):
        return {TAG: 'Counter', 'items': to_weights_only(dict(obj), path)}
    if isinstance(obj, (dict, list, tuple)):
        return _rebuilt(obj, lambda key, value: to_weights_only(value, f'{path}[{key!r}]'))
    print_log(
        f'{path} is a {type(obj).__module__}.{type(obj).__qualname__}, which weights-only '
        'loading refuses; this checkpoint will not load with torch >= 2.6 defaults.',
        logger='current',
        level=logging.WARNING,
    )
    return obj


def from_weights_only(obj: Any) -> Any:
    """Undo :func:`to_weights_only`.

    Args:
        obj (Any): A loaded checkpoint or part of one.

    Returns:
        Any: ``obj`` with its tagged dicts turned back into objects.

    Raises:
        ValueError: For an array whose dtype is not numeric.
    """
    kind = obj.get(TAG) if isinstance(obj, dict) else None
    if kind == 'HistoryBuffer':
        return HistoryBuffer(obj['log'], obj['count'], obj['max_length'])
    if kind == 'ndarray':
        dtype = np.dtype(obj['dtype'])
        if dtype.kind not in 'biufc':
            raise ValueError(
                f'a checkpoint array of dtype {dtype} is not plain numbers; '
                'only numeric arrays are restored.'
            )
        return np.array(obj['data'], dtype=dtype)
    if kind == 'Counter':
        return Counter(from_weights_only(obj['items']))
    if isinstance(obj, (dict, list, tuple)):
        return _rebuilt(obj, lambda key, value: from_weights_only(value))
    return obj
