"""Measure what autograd keeps alive for backward."""

from typing import Any, Callable, Dict, Tuple

import torch
from torch import Tensor


def saved_tensor_bytes(fn: Callable[..., Any], *args, **kwargs) -> Tuple[Any, int]:
    """Run ``fn`` and count the bytes autograd saves for its backward.

    Every tensor that autograd saves while ``fn`` runs is recorded through
    :func:`torch.autograd.graph.saved_tensors_hooks`; tensors sharing a
    storage (views of one tensor) are counted once, with their storage size,
    which is the memory the saved tensors keep alive.

    Args:
        fn (callable): The computation, e.g. a module.
        *args: Positional arguments of ``fn``.
        **kwargs: Keyword arguments of ``fn``.

    Returns:
        tuple: ``fn``'s output and the number of bytes saved for backward.
    """
    storages: Dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn(*args, **kwargs)
    return out, sum(storages.values())
