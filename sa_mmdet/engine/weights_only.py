"""mmengine checkpoints as plain data that weights-only ``torch.load`` reads.

torch >= 2.6 loads checkpoints with ``weights_only=True``: only tensors,
containers and a short list of safe types may be unpickled, so a checkpoint
cannot run code. An mmengine 0.10.7 checkpoint holds more: the message hub's
``HistoryBuffer`` objects (numpy arrays, and statistics functions that pickle
through ``builtins.getattr``, which must never be allowed), numpy scalars and
a ``collections.Counter`` of scheduler milestones. Widening the allowlist would
widen it for every load in the process, and numpy's array and dtype
constructors let a file choose raw memory contents.

:func:`to_weights_only` instead rewrites those objects as tagged dicts of
lists and Python scalars, and :func:`from_weights_only` turns them back.
:class:`~sa_mmdet.engine.hooks.WeightsOnlyCheckpointHook` applies them when
mmengine saves and loads checkpoints.
"""

import collections
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

#: Key of the dicts that stand for a non-plain object.
TAG = '__sa_mmdet_type__'
#: Types weights-only loading takes as they are.
_PLAIN = (
    str,
    bytes,
    int,
    float,
    bool,
    complex,
    type(None),
    torch.Tensor,
    torch.dtype,
    torch.Size,
    torch.device,
)


def _history_buffer_dict(buffer: HistoryBuffer) -> dict:
    log, count = buffer.data
    return {
        TAG: 'HistoryBuffer',
        'log': log.tolist(),
        'count': count.tolist(),
        'max_length': buffer.max_length,
    }


def to_weights_only(obj: Any, path: str = 'checkpoint') -> Any:
    """Rewrite ``obj`` into data that weights-only loading accepts.

    ``HistoryBuffer``, numpy arrays and ``Counter`` become tagged dicts,
    numpy scalars Python scalars; containers are rewritten recursively
    (``OrderedDict`` stays one). Anything else is kept and logged, since
    weights-only loading will refuse it.

    Args:
        obj (Any): A checkpoint or part of one.
        path (str): Where ``obj`` sits, for the log. Defaults to 'checkpoint'.

    Returns:
        Any: The rewritten object (``obj`` itself where nothing changed).
    """
    if isinstance(obj, np.generic):  # before the plain types: np.float64 is a float
        return obj.item()
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, HistoryBuffer):
        return _history_buffer_dict(obj)
    if isinstance(obj, np.ndarray):
        return {TAG: 'ndarray', 'data': to_weights_only(obj.tolist(), path), 'dtype': obj.dtype.str}
    if isinstance(obj, collections.Counter):
        return {TAG: 'Counter', 'items': to_weights_only(dict(obj), path)}
    if isinstance(obj, dict):
        items = ((k, to_weights_only(v, f'{path}[{k!r}]')) for k, v in obj.items())
        return (
            collections.OrderedDict(items)
            if isinstance(obj, collections.OrderedDict)
            else dict(items)
        )
    if isinstance(obj, (list, tuple)):
        items = [to_weights_only(v, f'{path}[{i}]') for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    print_log(
        f'{path} is a {type(obj).__module__}.{type(obj).__qualname__}, which '
        'weights-only loading refuses; this checkpoint will not load with torch >= 2.6 '
        'defaults.',
        logger='current',
        level=30,
    )
    return obj


def from_weights_only(obj: Any) -> Any:
    """Undo :func:`to_weights_only`.

    Args:
        obj (Any): A loaded checkpoint or part of one.

    Returns:
        Any: ``obj`` with tagged dicts turned back into ``HistoryBuffer``,
        numpy arrays and ``Counter`` objects.
    """
    if isinstance(obj, dict):
        kind = obj.get(TAG)
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
            return collections.Counter(from_weights_only(obj['items']))
        items = ((k, from_weights_only(v)) for k, v in obj.items())
        return (
            collections.OrderedDict(items)
            if isinstance(obj, collections.OrderedDict)
            else dict(items)
        )
    if isinstance(obj, (list, tuple)):
        items = [from_weights_only(v) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj
