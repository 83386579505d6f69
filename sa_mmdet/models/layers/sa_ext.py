"""The compiled CPU kernel of the fast Shuffle Attention, where it was built.

``sa_mmdet._ext`` (sources in ``sa_mmdet/csrc``) is built by ``setup.py``
when torch is importable at build time. It runs
:class:`~.shuffle_attention_function.ShuffleAttentionFunction` on contiguous
NCHW CPU tensors of dtype float, double, bfloat16 or half; every other input
(channels_last or other strides, CUDA) and a missing extension take the
pure-PyTorch path, which computes the same function.
"""
import contextlib
from typing import Iterator

import torch
from torch import Tensor

try:
    from sa_mmdet import _ext
except ImportError:  # not built: SA_MMDET_WITH_OPS=0, or installed without torch
    _ext = None

#: Set to False to run the pure-PyTorch path even where the kernel applies.
ENABLED = True

#: Dtype of the statistics and gate parameters the kernel takes per input dtype.
_OPMATH_DTYPES = {
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    torch.bfloat16: torch.float32,
    torch.float16: torch.float32,
}


def sa_ext_available() -> bool:
    """Whether the compiled CPU kernel ``sa_mmdet._ext`` is importable.

    Returns:
        bool: True if the extension was built and loads.
    """
    return _ext is not None


def sa_backend() -> str:
    """Name of the backend the fast Shuffle Attention uses for CPU NCHW tensors.

    Returns:
        str: ``'cpp'`` (the compiled kernel) or ``'pytorch'``.
    """
    return 'cpp' if ENABLED and _ext is not None else 'pytorch'


@contextlib.contextmanager
def sa_kernel_enabled(enabled: bool) -> Iterator[None]:
    """Context manager that enables or disables the compiled kernel.

    Args:
        enabled (bool): Whether layers run inside the context may use the
            kernel (False: always the pure-PyTorch path).
    """
    global ENABLED
    previous, ENABLED = ENABLED, enabled
    try:
        yield
    finally:
        ENABLED = previous


def sa_kernel_applies(x: Tensor, dtype: torch.dtype) -> bool:
    """Whether the compiled kernel can run SA on ``x`` with parameters of ``dtype``.

    Args:
        x (Tensor): SA input of shape (N, C, H, W).
        dtype (torch.dtype): Dtype of the statistics and gate parameters.

    Returns:
        bool: True for a non-empty contiguous CPU tensor whose dtype the
        kernel supports with ``dtype`` as its compute dtype.
    """
    return (ENABLED and _ext is not None and x.device.type == 'cpu' and x.dim() == 4
            and x.numel() > 0 and x.is_contiguous() and _OPMATH_DTYPES.get(x.dtype) == dtype)


def sa_forward(x: Tensor, weight: Tensor, bias: Tensor, eps: float, shuffle: bool,
               out: Tensor) -> tuple:
    """Kernel forward; see ``sa_mmdet/csrc/shuffle_attention.h``."""
    return _ext.shuffle_attention_forward(x, weight, bias, eps, shuffle, out)


def sa_backward(grad_out: Tensor, x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor,
                rstd: Tensor, shuffle: bool, grad_x: Tensor) -> tuple:
    """Kernel backward; see ``sa_mmdet/csrc/shuffle_attention.h``."""
    return _ext.shuffle_attention_backward(grad_out, x, weight, bias, mean, rstd, shuffle,
                                           grad_x)
