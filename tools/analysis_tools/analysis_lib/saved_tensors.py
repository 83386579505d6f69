"""Measure what autograd keeps alive for backward."""

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Tuple

import torch
from torch import Tensor


@contextmanager
def saved_storages() -> Iterator[Dict[int, int]]:
    """Record the storages autograd saves inside the block: ``{data_ptr: nbytes}``.

    Tensors sharing a storage (views of one tensor) count once, with the storage's size.
    """
    storages: Dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield storages


def saved_tensor_bytes(fn: Callable[..., Any], *args, **kwargs) -> Tuple[Any, int]:
    """Run ``fn`` and count the bytes of the storages autograd saves for its backward.

    Args:
        fn (callable): The computation, e.g. a module.
        *args: Positional arguments of ``fn``.
        **kwargs: Keyword arguments of ``fn``.

    Returns:
        tuple: ``fn``'s output and the number of bytes saved for backward.
    """
    with saved_storages() as storages:
        out = fn(*args, **kwargs)
    return out, sum(storages.values())
