"""Shuffle Attention from the layer's own six parameters: one op per call.

:class:`~sa_mmdet.models.layers.ShuffleAttention` keeps the parameters of the
official SA-Net code (``cweight``, ``cbias``, ``sweight``, ``sbias`` and a
GroupNorm's ``weight`` and ``bias``, ``k`` elements each). The operator
``sa_mmdet::shuffle_attention_forward`` takes them folded into one gate weight
and bias (:func:`sa_gate_params`). Folded in Python with autograd, the fold
costs eight autograd nodes per call and its backward as many again: on a
small input more than the kernels (1x256x1x1 on the CPU: about 150 of 350 us
forward+backward).

``sa_mmdet::shuffle_attention_layer(x, cweight, cbias, sweight, sbias,
gn_weight, gn_bias, eps)`` is the layer as one op. It is defined here as a
composite of the fold and the forward op (so ``torch.compile``, ``torch.export``
and the fake-tensor machinery see those), and where the CPU extension is
built it runs for CPU and CUDA tensors as one C++ autograd node
(``csrc/autograd/``) that folds the parameters and maps the gate gradients
back onto the six without entering Python.
"""

from typing import Tuple

import torch
from torch import Tensor

from .shuffle_attention import opmath_dtype, shuffle_attention
from .shuffle_attention_export import is_exporting

__all__ = ['sa_gate_params', 'shuffle_attention_layer']


def sa_gate_params(
    cweight: Tensor,
    cbias: Tensor,
    sweight: Tensor,
    sbias: Tensor,
    gn_weight: Tensor,
    gn_bias: Tensor,
) -> Tuple[Tensor, Tensor]:
    """Fold the six SA parameters into a gate weight and bias per branch.

    The channel gate is ``sigmoid(cweight * mean + cbias)``; the spatial gate
    ``sigmoid(sweight * (gn_weight * xhat + gn_bias) + sbias)`` equals
    ``sigmoid(W * xhat + B)`` with ``W = sweight * gn_weight`` and
    ``B = sweight * gn_bias + sbias``.

    Args:
        cweight (Tensor): Channel-attention weight, ``k`` elements.
        cbias (Tensor): Channel-attention bias, ``k`` elements.
        sweight (Tensor): Spatial-attention weight, ``k`` elements.
        sbias (Tensor): Spatial-attention bias, ``k`` elements.
        gn_weight (Tensor): GroupNorm weight, ``k`` elements.
        gn_bias (Tensor): GroupNorm bias, ``k`` elements.

    Returns:
        tuple[Tensor, Tensor]: ``W`` and ``B`` of shape (2, k), indexed
        ``[branch, j]``; differentiable with respect to the inputs.
    """
    cweight, cbias, sweight, sbias = (p.reshape(-1) for p in (cweight, cbias, sweight, sbias))
    weight = torch.stack([cweight, sweight * gn_weight])
    bias = torch.stack([cbias, torch.addcmul(sbias, sweight, gn_bias)])
    return weight, bias


_LIBRARY = torch.library.Library('sa_mmdet', 'FRAGMENT')
_LIBRARY.define(
    'shuffle_attention_layer(Tensor x, Tensor cweight, Tensor cbias, Tensor sweight, '
    'Tensor sbias, Tensor gn_weight, Tensor gn_bias, float eps) -> Tensor'
)


@torch.library.impl(_LIBRARY, 'shuffle_attention_layer', 'CompositeImplicitAutograd')
def _layer_composite(
    x: Tensor,
    cweight: Tensor,
    cbias: Tensor,
    sweight: Tensor,
    sbias: Tensor,
    gn_weight: Tensor,
    gn_bias: Tensor,
    eps: float,
) -> Tensor:
    weight, bias = sa_gate_params(cweight, cbias, sweight, sbias, gn_weight, gn_bias)
    out, _, _ = torch.ops.sa_mmdet.shuffle_attention_forward(
        x, weight.reshape(-1), bias.reshape(-1), eps
    )
    return out


def shuffle_attention_layer(
    x: Tensor,
    cweight: Tensor,
    cbias: Tensor,
    sweight: Tensor,
    sbias: Tensor,
    gn_weight: Tensor,
    gn_bias: Tensor,
    groups: int,
    eps: float = 1e-5,
) -> Tensor:
    """Shuffle Attention with the official parameters, as one op where it can.

    Equal to ``shuffle_attention(x, *sa_gate_params(...), groups, eps)``
    (:func:`~sa_mmdet.ops.shuffle_attention`), which it calls while a model is
    exported or traced, for an empty input, and for parameters of another
    dtype than the input's statistics (float32, float64 for float64 input).

    Args:
        x (Tensor): Input of shape (N, C, H, W), C divisible by ``2 * groups``.
        cweight (Tensor): Channel-attention weight, ``k = C / 2G`` elements.
        cbias (Tensor): Channel-attention bias, ``k`` elements.
        sweight (Tensor): Spatial-attention weight, ``k`` elements.
        sbias (Tensor): Spatial-attention bias, ``k`` elements.
        gn_weight (Tensor): GroupNorm weight, shape (k,).
        gn_bias (Tensor): GroupNorm bias, shape (k,).
        groups (int): Number of SA groups ``G``; must be even.
        eps (float): Epsilon of the spatial-attention normalisation.
            Defaults to 1e-5.

    Returns:
        Tensor: Output of the shape and dtype of ``x``.
    """
    params = (cweight, cbias, sweight, sbias, gn_weight, gn_bias)
    opmath = opmath_dtype(x.dtype)
    if (
        is_exporting()
        or x.numel() == 0
        or x.dim() != 4
        or x.shape[1] != 2 * groups * gn_weight.numel()
        or groups % 2
        or any(p.dtype != opmath or p.numel() != gn_weight.numel() for p in params)
    ):
        return shuffle_attention(x, *sa_gate_params(*params), groups, eps)
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    return torch.ops.sa_mmdet.shuffle_attention_layer(x, *params, eps)
