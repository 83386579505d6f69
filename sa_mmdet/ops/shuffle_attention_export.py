"""Shuffle Attention in standard tensor ops, the form the operator takes while exporting.

Exporters (``torch.onnx.export`` with either exporter, ``torch.export``,
``torch.jit.trace``) see this formulation instead of the custom ops: every
plane ``c`` is ``y = x * sigmoid(a_c * (x - mean) + b_c)`` with ``a_c``, ``b_c``
from its mean and variance and the gate parameters, which maps to ReduceMean,
Sub, Mul, Add, Pow, Sigmoid. The per-channel constants depend on the
parameters only, so both exporters fold them into initializers. The channel
shuffle is a Reshape/Transpose/Reshape whose shape is built from the runtime
batch and image size, so these stay dynamic. It computes the same function as
the operator (see :mod:`.shuffle_attention_torch`).
"""

import torch
from torch import Tensor


def is_exporting() -> bool:
    """Whether a model is being exported or traced.

    True under ``torch.onnx.export`` (either exporter), ``torch.export`` (strict
    and non-strict) and ``torch.jit.trace``; False in eager mode and under
    ``torch.compile``.
    """
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.compiler.is_exporting()


def _per_channel(t: Tensor, channels: int) -> Tensor:
    """Parameter ``t`` (2k elements) for each of the ``channels``, shape (1, C, 1, 1).

    Pre-shuffle channel ``c`` uses ``t[c % 2k]``. Written in ops that both
    exporters fold (Concat, Reshape; the TorchScript one folds no Tile or Expand).
    """
    return torch.cat([t] * (channels // t.numel())).view(1, channels, 1, 1)


def shuffle_attention_export(
    x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float
) -> Tensor:
    """Shuffle Attention of the operator's contract in standard tensor ops.

    Args:
        x (Tensor): Input (N, C, H, W), ``C = 2 * k * groups``.
        weight (Tensor): Gate weights, 2k elements: the channel-attention
            weights, then the spatial-attention ones.
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
    # Pow, not rsqrt: the TorchScript exporter writes rsqrt as Div(1, Sqrt), and onnxruntime
    # 1.32's DivMulFusion and EliminateIdentity together break the graph where that Div
    # meets a deduplicated (Identity) constant, e.g. SA's zero-initialised spatial weights
    rstd = (centered.square().mean((2, 3), keepdim=True) + eps) ** -0.5
    # channel planes: logit = w * mean + b; spatial planes: logit = w * rstd * (x - mean) + b
    logit = (spatial_weight * rstd) * centered + (channel_weight * mean + bias)
    out = xf * torch.sigmoid(logit)
    out = out if out.dtype == x.dtype else out.to(x.dtype)
    n, _, h, w = x.shape
    return out.reshape(n, 2, channels // 2, h, w).transpose(1, 2).reshape(n, channels, h, w)
