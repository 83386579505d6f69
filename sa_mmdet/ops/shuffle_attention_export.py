"""Shuffle Attention in standard tensor ops, the form the operator takes while exporting.

Exporters (ONNX with either exporter, ``torch.export``, ``torch.jit.trace``) see this instead of
the custom ops: per-channel constants that both ONNX exporters fold into initializers, then
ReduceMean, Sub, Mul, Add, Pow and Sigmoid, and a shuffle whose shape stays dynamic.
"""

import torch
from torch import Tensor


def is_exporting() -> bool:
    """Whether a model is being exported (ONNX, ``torch.export``) or traced (``torch.jit``);
    False in eager mode and under ``torch.compile``."""
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.compiler.is_exporting()


def _per_channel(t: Tensor, channels: int) -> Tensor:
    """Parameter ``t`` (2k elements) per channel ``c`` (``t[c % 2k]``), shape (1, C, 1, 1).

    Concat and Reshape, which both exporters fold (the TorchScript one folds no Tile or Expand).
    """
    return torch.cat([t] * (channels // t.numel())).view(1, channels, 1, 1)


def shuffle_attention_export(
    x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float
) -> Tensor:
    """Shuffle Attention of the operator's contract in standard tensor ops.

    Args:
        x (Tensor): Input (N, C, H, W), ``C = 2 * k * groups``.
        weight (Tensor): Gate weights, 2k elements: channel attention's, then spatial's.
        bias (Tensor): Gate biases, 2k elements.
        groups (int): Number of SA groups ``G``.
        eps (float): Epsilon of the spatial-attention normalisation.

    Returns:
        Tensor: The output, of the dtype of ``x``.
    """
    # Python ints only: under the TorchScript tracer x.shape[1] is a traced value
    half = weight.numel() // 2
    channels = 2 * half * groups
    channel_weight = torch.cat([weight[:half], weight[half:] * 0])
    spatial_weight = torch.cat([weight[:half] * 0, weight[half:]])
    channel_weight, spatial_weight, bias = (
        _per_channel(t, channels) for t in (channel_weight, spatial_weight, bias)
    )
    xf = x if x.dtype == weight.dtype else x.to(weight.dtype)
    mean = xf.mean((2, 3), keepdim=True)
    centered = xf - mean
    # Pow, not rsqrt: the TorchScript exporter writes rsqrt as Div(1, Sqrt), which onnxruntime's
    # graph optimisations break next to a deduplicated constant (zero-initialised weights)
    rstd = (centered.square().mean((2, 3), keepdim=True) + eps) ** -0.5
    # channel planes: logit = w * mean + b; spatial planes: logit = w * rstd * (x - mean) + b
    logit = (spatial_weight * rstd) * centered + (channel_weight * mean + bias)
    out = xf * torch.sigmoid(logit)
    out = out if out.dtype == x.dtype else out.to(x.dtype)
    n, _, h, w = x.shape
    return out.reshape(n, 2, channels // 2, h, w).transpose(1, 2).reshape(n, channels, h, w)
