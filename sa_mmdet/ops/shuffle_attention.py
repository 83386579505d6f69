"""Shuffle Attention (SA-Net, arXiv:2102.00240) as a PyTorch operator (namespace ``sa_mmdet``).

Two :mod:`torch.library` custom ops, so that ``torch.compile``, ``torch.export`` and
``opcheck`` see through them: ``shuffle_attention_forward(x, weight, bias, eps)`` returns the
output and each plane's mean and inverse std, differentiable through
``shuffle_attention_backward(grad_out, x, weight, bias, mean, rstd)``. Each dispatches by device
to the compiled CPU kernel (``sa_mmdet._ext``), the Triton kernels on CUDA, or the pure-PyTorch
form of :mod:`.shuffle_attention_torch`; all keep statistics in :func:`opmath_dtype` and sum
parameter gradients in a fixed order (bit-identical runs). While exporting or tracing,
:func:`shuffle_attention` takes the standard-op form of :mod:`.shuffle_attention_export`.
"""

import contextlib
import functools
from types import ModuleType
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor

from .sa_checks import check_sa_groups
from .shuffle_attention_export import is_exporting, shuffle_attention_export
from .shuffle_attention_torch import backward_torch, forward_torch, like_input

try:
    from sa_mmdet import _ext
except ImportError:  # not built: SA_MMDET_WITH_OPS=0, or installed without torch
    _ext = None

#: False (see :func:`sa_kernel_enabled`) runs the pure-PyTorch form even where a kernel applies.
KERNELS_ENABLED = True

#: Input dtypes each kernel takes; its statistics and parameters are in :func:`opmath_dtype`.
_KERNEL_DTYPES = {
    'cpp': (torch.float32, torch.float64, torch.bfloat16, torch.float16),
    'triton': (torch.float32, torch.float16, torch.bfloat16),
}


def opmath_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype of the statistics and gate parameters for inputs of ``dtype``.

    Args:
        dtype (torch.dtype): Input dtype.

    Returns:
        torch.dtype: float64 for float64, else float32.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


@functools.lru_cache(maxsize=None)
def _triton_kernels() -> Optional[ModuleType]:
    """The Triton kernels, or None where Triton is not installed."""
    try:
        from . import shuffle_attention_triton
    except ImportError:
        return None
    return shuffle_attention_triton


def sa_backend(device: 'torch.device | str' = 'cpu') -> str:
    """Name of the code the operator runs for contiguous tensors on ``device``.

    Args:
        device (torch.device | str): A device. Defaults to ``'cpu'``.

    Returns:
        str: ``'cpp'`` (the compiled CPU kernel), ``'triton'`` or ``'pytorch'``.
    """
    device_type = torch.device(device).type
    if KERNELS_ENABLED and device_type == 'cpu' and _ext is not None:
        return 'cpp'
    if KERNELS_ENABLED and device_type == 'cuda' and _triton_kernels() is not None:
        return 'triton'
    return 'pytorch'


def sa_ext_available() -> bool:
    """Whether the compiled CPU kernel ``sa_mmdet._ext`` was built and loads."""
    return _ext is not None


@contextlib.contextmanager
def sa_kernel_enabled(enabled: bool) -> Iterator[None]:
    """Context manager that enables or disables the compiled and Triton kernels.

    Args:
        enabled (bool): Whether the operator may use them (False: the pure-PyTorch form).
    """
    global KERNELS_ENABLED
    previous, KERNELS_ENABLED = KERNELS_ENABLED, enabled
    try:
        yield
    finally:
        KERNELS_ENABLED = previous


def _kernel_backend(x: Tensor, weight: Tensor, *others: Tensor) -> Optional[str]:
    """``'cpp'`` or ``'triton'`` where that kernel takes these operands, else None."""
    backend = sa_backend(x.device)
    if (
        backend == 'pytorch'
        or x.numel() == 0
        or x.dtype not in _KERNEL_DTYPES[backend]
        or weight.dtype != opmath_dtype(x.dtype)
        or not all(t.is_contiguous() for t in (x, weight, *others))
    ):
        return None
    return backend


def _forward_impl(
    x: Tensor, weight: Tensor, bias: Tensor, eps: float
) -> Tuple[Tensor, Tensor, Tensor]:
    backend = _kernel_backend(x, weight, bias)
    if backend == 'cpp':
        return _ext.shuffle_attention_forward(x, weight, bias, eps)
    if backend == 'triton':
        return _triton_kernels().sa_forward_triton(x, weight, bias, eps)
    return forward_torch(x, weight, bias, eps)


def _backward_impl(
    grad_out: Tensor, x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor, rstd: Tensor
) -> Tuple[Tensor, Tensor, Tensor]:
    saved = (weight, bias, mean, rstd)
    backend = _kernel_backend(x, *saved)
    # the kernels read a gradient expanded from one plane (y.sum().backward()) as that plane
    one_plane = grad_out.dtype == x.dtype and grad_out.stride()[:2] == (0, 0)
    if backend is None or not one_plane:
        grad_out = like_input(grad_out, x)
    if backend == 'cpp':
        return _ext.shuffle_attention_backward(grad_out, x, *saved)
    if backend == 'triton':
        return _triton_kernels().sa_backward_triton(grad_out, x, *saved)
    return backward_torch(grad_out, x, *saved)


_forward = torch.library.custom_op(
    'sa_mmdet::shuffle_attention_forward', _forward_impl, mutates_args=()
)
_backward = torch.library.custom_op(
    'sa_mmdet::shuffle_attention_backward', _backward_impl, mutates_args=()
)


@_forward.register_fake
def _forward_fake(x, weight, bias, eps):
    stats = x.new_empty(x.shape[:2], dtype=weight.dtype)
    return torch.empty_like(x), stats, torch.empty_like(stats)


@_backward.register_fake
def _backward_fake(grad_out, x, weight, bias, mean, rstd):
    return torch.empty_like(x), torch.empty_like(weight), torch.empty_like(bias)


def _setup_context(ctx, inputs: tuple, output: tuple) -> None:
    x, weight, bias, _ = inputs
    _, mean, rstd = output
    ctx.mark_non_differentiable(mean, rstd)
    ctx.save_for_backward(x, weight, bias, mean, rstd)


def _backward_formula(ctx, grad_out: Tensor, grad_mean: Tensor, grad_rstd: Tensor) -> tuple:
    grads = torch.ops.sa_mmdet.shuffle_attention_backward(grad_out, *ctx.saved_tensors)
    return (*grads, None)


_forward.register_autograd(_backward_formula, setup_context=_setup_context)

# CPU and CUDA kernels are registered with the dispatcher directly: the wrapper of
# CustomOpDef.register_kernel checks each call in Python, which costs more than small kernels.
_DEVICE_LIBRARY = torch.library.Library('sa_mmdet', 'IMPL')
for _key in ('CPU', 'CUDA'):
    _DEVICE_LIBRARY.impl('shuffle_attention_forward', _forward_impl, _key)
    _DEVICE_LIBRARY.impl('shuffle_attention_backward', _backward_impl, _key)


def empty_sa_output(x: Tensor, *params: Tensor) -> Tensor:
    """Shuffle Attention of an empty input (N, H or W is 0): a new empty tensor like ``x``.

    It depends on ``x`` and ``params``, so backward gives them zero gradients (not the NaN
    statistics of an empty plane).

    Args:
        x (Tensor): The empty input (N, C, H, W).
        *params (Tensor): The layer's parameters.

    Returns:
        Tensor: A new tensor of the shape, dtype and memory format of ``x``.
    """
    zero = sum((p.sum() * 0 for p in params), x.new_zeros(()))
    return x + zero.to(x.dtype)


def sa_gate_params(
    cweight: Tensor,
    cbias: Tensor,
    sweight: Tensor,
    sbias: Tensor,
    gn_weight: Tensor,
    gn_bias: Tensor,
) -> Tuple[Tensor, Tensor]:
    """Fold the six SA parameters (``k`` elements each) into a gate weight and bias.

    The spatial gate ``sigmoid(sweight * (gn_weight * xhat + gn_bias) + sbias)`` is
    ``sigmoid(W * xhat + B)`` with ``W = sweight * gn_weight``, ``B = sweight * gn_bias + sbias``.

    Args:
        cweight (Tensor): Channel-attention weight.
        cbias (Tensor): Channel-attention bias.
        sweight (Tensor): Spatial-attention weight.
        sbias (Tensor): Spatial-attention bias.
        gn_weight (Tensor): GroupNorm weight.
        gn_bias (Tensor): GroupNorm bias.

    Returns:
        tuple[Tensor, Tensor]: Differentiable ``W`` and ``B`` of shape (2, k), indexed
        ``[branch, j]`` (branch 0: channel attention, 1: spatial).
    """
    cweight, cbias, sweight, sbias = (p.reshape(-1) for p in (cweight, cbias, sweight, sbias))
    weight = torch.stack([cweight, sweight * gn_weight])
    bias = torch.stack([cbias, torch.addcmul(sbias, sweight, gn_bias)])
    return weight, bias


def shuffle_attention(
    x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float = 1e-5
) -> Tensor:
    """Shuffle Attention on an (N, C, H, W) tensor through the operator.

    Args:
        x (Tensor): Input of shape (N, C, H, W), C divisible by ``2 * groups``.
        weight (Tensor): Gate weight of shape (2, k), ``k = C / 2G``, as from
            :func:`sa_gate_params`.
        bias (Tensor): Gate bias of shape (2, k).
        groups (int): Number of SA groups ``G``; must be even.
        eps (float): Epsilon of the spatial-attention normalisation. Defaults to 1e-5.

    Returns:
        Tensor: Output of the shape and dtype of ``x`` (a new empty tensor for an empty ``x``).
    """
    channels = x.shape[1]
    check_sa_groups(channels, groups, even=True, name='the Shuffle Attention operator')
    k = channels // (2 * groups)
    if weight.shape != (2, k) or bias.shape != (2, k):
        raise ValueError(
            f'weight and bias must have shape (2, {k}) for C={channels}, '
            f'groups={groups}, but got {tuple(weight.shape)}, {tuple(bias.shape)}.'
        )
    dtype = opmath_dtype(x.dtype)
    weight, bias = weight.reshape(-1).to(dtype), bias.reshape(-1).to(dtype)
    if is_exporting():  # standard ops, which the exporters translate
        return shuffle_attention_export(x, weight, bias, groups, eps)
    if x.numel() == 0:  # N, H or W is 0: no plane to normalise
        return empty_sa_output(x, weight, bias)
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    return torch.ops.sa_mmdet.shuffle_attention_forward(x, weight, bias, eps)[0]
