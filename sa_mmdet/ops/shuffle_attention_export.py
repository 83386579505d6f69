"""Shuffle Attention in standard tensor ops, the form the operator takes while exporting.

Exporters (``torch.onnx.export`` with either exporter, ``torch.export``) see
this formulation instead of the custom ops: every plane ``c`` is
``y = x * sigmoid(a_c * x + b_c)`` with per-plane ``a_c``, ``b_c`` from its mean
and variance, which maps to ReduceMean, Sub, Mul, Add, Sqrt, Sigmoid; the
channel shuffle is a Reshape/Transpose/Reshape built from the runtime shape,
so batch and image size stay dynamic. It computes the same function as the
operator (see :mod:`.shuffle_attention_torch`).
"""

import torch
from torch import Tensor


def is_exporting() -> bool:
    """Whether a model is being exported (ONNX, either exporter, or ``torch.export``)."""
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


def shuffle_attention_export(
    x: Tensor, weight: Tensor, bias: Tensor, eps: float, shuffle: bool
) -> Tensor:
    """Shuffle Attention of the operator's contract in standard tensor ops.

    Args:
        x (Tensor): Input (N, C, H, W).
        weight (Tensor): Gate weights, P elements; plane ``c`` uses ``c % P``,
            channel attention for ``c % P < P / 2``, spatial attention above.
        bias (Tensor): Gate biases, P elements.
        eps (float): Epsilon of the spatial-attention normalisation.
        shuffle (bool): Whether the output is shuffled.

    Returns:
        Tensor: The output, of the dtype of ``x``.
    """
    channels, params = x.shape[1], weight.numel()
    spatial = (torch.arange(params, device=x.device) >= params // 2).to(weight.dtype)
    reps = channels // params
    spatial, weight, bias = (
        t.repeat(reps).view(1, channels, 1, 1) for t in (spatial, weight, bias)
    )
    xf = x.to(weight.dtype)
    mean = xf.mean((2, 3), keepdim=True)
    var = (xf - mean).square().mean((2, 3), keepdim=True)
    rstd = torch.rsqrt(var + eps)
    # channel planes: logit = w * mean + b; spatial planes: logit = w * rstd * (x - mean) + b
    slope = spatial * weight * rstd
    offset = bias + (1 - spatial) * weight * mean - slope * mean
    out = (xf * torch.sigmoid(slope * xf + offset)).to(x.dtype)
    if not shuffle:
        return out
    n, c, h, w = out.shape
    return out.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
