"""Shuffle Attention in pure PyTorch: the fallback of the operator's kernels, and its math.

A plane is one (sample, channel) slice of ``HW`` elements; plane ``c`` uses gate parameter
``j = c % P``, channel attention for ``j < P / 2``, else spatial attention. With ``W``, ``B``
the gate weight and bias, and the plane's ``mean`` and ``rstd = 1 / sqrt(var + eps)``:

- channel attention: ``y = x * s``, ``s = sigmoid(W * mean + B)``;
- spatial attention: ``y = x * s``, ``s = sigmoid(a * (x - mean) + B)``, ``a = W * rstd``.

Input channel ``c`` then goes to output channel ``2 * (c % (C / 2)) + c // (C / 2)``. Backward
recomputes the gates from ``x`` and the saved statistics. With ``g`` the output gradient,
``u = g * x * s * (1 - s)``, ``S1 = sum(u)`` and ``t = sum(u * (x - mean))`` per plane:

- channel attention: ``dlogit = s * (1 - s) * sum(g * x)``,
  ``dx = g * s + W * dlogit / HW``, ``dW = dlogit * mean``, ``dB = dlogit``;
- spatial attention: ``dx = g * s + a * u - a * rstd^2 * t * (x - mean) / HW - a * S1 / HW``,
  ``dW = rstd * t``, ``dB = S1``.
"""

from typing import Tuple

import torch
from torch import Tensor


def _planes(t: Tensor, params: int) -> Tensor:
    """View (N, C, H, W) as (N, 2, C / 2P, P, H * W); axis -2 is the gate parameter ``j``."""
    n, c, h, w = t.shape
    return t.view(n, 2, c // (2 * params), params, h * w)


def _shuffled_planes(t: Tensor, params: int) -> Tensor:
    """View the shuffled output like :func:`_planes` of the input."""
    n, c, h, w = t.shape
    return t.view(n, c // (2 * params), params, 2, h * w).permute(0, 3, 1, 2, 4)


def _halves(t: Tensor) -> Tuple[Tensor, Tensor]:
    """Channel and spatial attention halves of the parameter axis -2."""
    return t.split(t.shape[-2] // 2, -2)


def like_input(grad_out: Tensor, x: Tensor) -> Tensor:
    """``grad_out``, dense, in the dtype and memory format of ``x``; an expanded gradient is
    copied once (``Tensor.to`` would keep its zero strides), so that the kernels take it."""
    channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    format = torch.channels_last if channels_last else torch.contiguous_format
    return grad_out.to(x.dtype).contiguous(memory_format=format)


def forward_torch(
    x: Tensor, weight: Tensor, bias: Tensor, eps: float
) -> Tuple[Tensor, Tensor, Tensor]:
    """Shuffle Attention of ``x`` and the plane statistics.

    Args:
        x (Tensor): Input (N, C, H, W), contiguous or channels_last.
        weight (Tensor): Gate weights, P elements, in the compute dtype.
        bias (Tensor): Gate biases, P elements, in the compute dtype.
        eps (float): Epsilon of the spatial-attention normalisation.

    Returns:
        tuple[Tensor, Tensor, Tensor]: The output, like ``x`` (memory format included), and
        the (N, C) ``mean`` and ``rstd`` of the planes, in the dtype of ``weight``.
    """
    params = weight.numel()
    planes = _planes(x, params).to(weight.dtype)
    var, mean = torch.var_mean(planes, -1, correction=0, keepdim=True)
    rstd = (var + eps).rsqrt()
    (x_c, x_s), (mean_c, mean_s), (_, rstd_s) = _halves(planes), _halves(mean), _halves(rstd)
    (w_c, w_s), (b_c, b_s) = _halves(weight.view(params, 1)), _halves(bias.view(params, 1))
    out = torch.empty_like(x)
    out_c, out_s = _halves(_shuffled_planes(out, params))
    out_c.copy_(x_c * torch.sigmoid(w_c * mean_c + b_c))
    out_s.copy_(x_s * torch.sigmoid(w_s * rstd_s * (x_s - mean_s) + b_s))
    return out, mean.view(x.shape[:2]), rstd.view(x.shape[:2])


def backward_torch(
    grad_out: Tensor, x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor, rstd: Tensor
) -> Tuple[Tensor, Tensor, Tensor]:
    """Gradients of :func:`forward_torch` with respect to ``x``, ``weight`` and ``bias``.

    Args:
        grad_out (Tensor): Gradient of the output, of the shape of ``x``.
        x (Tensor): The forward's input.
        weight (Tensor): Gate weights, P elements, in the compute dtype.
        bias (Tensor): Gate biases, P elements, in the compute dtype.
        mean (Tensor): The forward's plane means, (N, C).
        rstd (Tensor): The forward's plane inverse std, (N, C).

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``grad_x`` like ``x`` (memory format included), and
        the gradients of ``weight`` and ``bias`` (P,), summed in a fixed order.
    """
    params, hw = weight.numel(), x.shape[2] * x.shape[3]
    planes = _planes(x, params).to(weight.dtype)
    stats = (*planes.shape[:-1], 1)
    (x_c, x_s), (mean_c, mean_s) = _halves(planes), _halves(mean.view(stats))
    g_c, g_s = _halves(_shuffled_planes(like_input(grad_out, x), params).to(weight.dtype))
    (w_c, w_s), (b_c, b_s) = _halves(weight.view(params, 1)), _halves(bias.view(params, 1))
    rstd_s = _halves(rstd.view(stats))[1]
    grad_x = torch.empty_like(x)
    dx_c, dx_s = _halves(_planes(grad_x, params))
    # channel attention
    s = torch.sigmoid(w_c * mean_c + b_c)
    grad_logit = s * (1 - s) * (g_c * x_c).sum(-1, keepdim=True)
    dx_c.copy_(g_c * s + w_c * grad_logit / hw)
    # spatial attention
    a, d = w_s * rstd_s, x_s - mean_s
    s = torch.sigmoid(a * d + b_s)
    u = g_s * x_s * s * (1 - s)
    sum_u, sum_ud = u.sum(-1, keepdim=True), (u * d).sum(-1, keepdim=True)
    dx_s.copy_(g_s * s + a * u - a * rstd_s.square() * sum_ud / hw * d - a * sum_u / hw)
    # per-plane terms summed over (n, r, g), in a fixed order
    grad_weight = torch.cat([grad_logit * mean_c, rstd_s * sum_ud], -2).sum((0, 1, 2))
    grad_bias = torch.cat([grad_logit, sum_u], -2).sum((0, 1, 2))
    return grad_x, grad_weight.view(-1), grad_bias.view(-1)
