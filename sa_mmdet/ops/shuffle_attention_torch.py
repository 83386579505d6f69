"""Shuffle Attention in pure PyTorch: the fallback of the operator's kernels.

The operator (see :mod:`.shuffle_attention`) sees Shuffle Attention as a
per-channel operation followed by a fixed channel permutation. A plane is one
(sample, channel) slice of ``H * W`` elements; plane ``c`` uses gate
parameter ``j = c % P`` (``P`` the number of gate parameters); ``j < P / 2``
is channel attention, ``j >= P / 2`` spatial attention. With ``W``, ``B`` the
gate weight and bias and ``mean``, ``rstd = 1 / sqrt(var + eps)`` the plane's
statistics:

- channel attention: ``y = x * s``, ``s = sigmoid(W * mean + B)``;
- spatial attention: ``y = x * s``, ``s = sigmoid(a * (x - mean) + B)`` with
  ``a = W * rstd``.

Backward recomputes the gates from ``x`` and the saved statistics, so ``x``
is the only activation-sized tensor saved. With ``g`` the output gradient,
``u = g * x * s * (1 - s)``, ``S1 = sum(u)`` and ``t = sum(u * (x - mean))``
per plane:

- channel attention: ``dlogit = s * (1 - s) * sum(g * x)``,
  ``dx = g * s + W * dlogit / HW``, ``dW = dlogit * mean``, ``dB = dlogit``;
- spatial attention: ``dx = g * s + a * u - a * rstd^2 * t * (x - mean) / HW
  - a * S1 / HW`` (the last two terms are the paths through ``rstd`` and
  ``mean``), ``dW = rstd * t``, ``dB = S1``.

On the CPU, planes are walked in chunks of at most :data:`CHUNK_NUMEL`
elements per thread: a chunk's statistics, gates and outputs are all computed
before the next chunk is read, so the input is read from memory once and the
later passes hit the cache. Other devices take the whole tensor as one chunk.
The output is written through a strided view, so the shuffle costs no copy.
"""

from typing import List, Sequence, Tuple

import torch
from torch import Tensor

#: Input elements per chunk and intra-op thread on the CPU: a chunk's passes
#: after the first one hit the cache, while the per-chunk Python overhead and
#: the number of parallel regions (one per op and chunk) stay small.
CHUNK_NUMEL = 1 << 19


def plane_view(t: Tensor, params: int) -> Tensor:
    """View an (N, C, H, W) SA input as (N, 2, C / 2P, P, H * W) planes.

    Element ``[n, r, g, j]`` is channel ``(r * C / 2) + g * P + j``, so the
    last-but-one axis is the gate parameter ``j`` and a chunk along the first
    three axes is a dense block of memory; the shuffle interleaves the two
    halves ``r``.

    Args:
        t (Tensor): Tensor of shape (N, C, H, W) whose H and W dims can be
            merged (contiguous or channels_last).
        params (int): Number of gate parameters ``P``.

    Returns:
        Tensor: A view of ``t``.
    """
    n, c, h, w = t.shape
    return t.view(n, 2, c // (2 * params), params, h * w)


def shuffled_output_view(t: Tensor, params: int) -> Tensor:
    """View SA's shuffled output in the layout of :func:`plane_view` of its input.

    Input channel ``c`` goes to output channel ``2 * (c % (C / 2)) + c // (C / 2)``.

    Args:
        t (Tensor): Tensor of shape (N, C, H, W) in shuffled channel order.
        params (int): Number of gate parameters ``P``.

    Returns:
        Tensor: A strided view of shape (N, 2, C / 2P, P, H * W).
    """
    n, c, h, w = t.shape
    return t.view(n, c // (2 * params), params, 2, h * w).permute(0, 3, 1, 2, 4)


def _chunk_sizes(shape: Sequence[int], device: torch.device) -> Tuple[int, int, int]:
    """Chunk sizes along the first three axes of a plane view: at most
    ``CHUNK_NUMEL`` elements per thread (or one group) on the CPU, everything
    at once elsewhere."""
    n, rows, groups, params, hw = shape
    if device.type != 'cpu':
        return n, rows, groups
    budget = CHUNK_NUMEL * torch.get_num_threads()
    per_group = params * hw
    if per_group * groups * rows <= budget:
        return min(n, budget // (per_group * groups * rows)), rows, groups
    if per_group * groups <= budget:
        return 1, 1, groups
    return 1, 1, max(1, budget // per_group)


def _split(t: Tensor, size: int, dim: int) -> List[Tensor]:
    length = t.shape[dim]
    if size >= length:
        return [t]
    return t.split_with_sizes(
        [size] * (length // size) + [length % size] * (length % size > 0), dim
    )


def _chunks(t: Tensor, sizes: Tuple[int, int, int]) -> List[Tensor]:
    """Split the first three axes of ``t`` into chunks of the given sizes."""
    return [
        c
        for tn in _split(t, sizes[0], 0)
        for tr in _split(tn, sizes[1], 1)
        for c in _split(tr, sizes[2], 2)
    ]


def _half(t: Tensor, branch: int) -> Tensor:
    """Channel (0) or spatial (1) attention half of the parameter axis -2."""
    half = t.shape[-2] // 2
    return t.narrow(-2, branch * half, half)


def _halves(t: Tensor, sizes: Tuple[int, int, int]) -> Tuple[List[Tensor], List[Tensor]]:
    """Chunks of the channel and of the spatial attention half of ``t``."""
    return _chunks(_half(t, 0), sizes), _chunks(_half(t, 1), sizes)


def _scratch(buffers: List[Tensor], like: Tensor) -> List[Tensor]:
    """Scratch buffers cut to the shape of a chunk (the last one may be smaller)."""
    if buffers[0].shape == like.shape:
        return buffers
    return [b[: like.shape[0], : like.shape[1], : like.shape[2]] for b in buffers]


def forward_torch(
    x: Tensor, weight: Tensor, bias: Tensor, eps: float
) -> Tuple[Tensor, Tensor, Tensor]:
    """Shuffle Attention of ``x`` and the plane statistics.

    Args:
        x (Tensor): Input (N, C, H, W), H and W mergeable.
        weight (Tensor): Gate weights, P elements, in the compute dtype.
        bias (Tensor): Gate biases, P elements, in the compute dtype.
        eps (float): Epsilon of the spatial-attention normalisation.

    Returns:
        tuple[Tensor, Tensor, Tensor]: The output, like ``x``, and ``mean`` and
        ``rstd`` of every plane, (N, C), in the dtype of ``weight``.
    """
    params, out = weight.numel(), torch.empty_like(x)
    x5, out5 = plane_view(x, params), shuffled_output_view(out, params)
    rows, hw = x5.shape[:3], x5.shape[-1]
    dtype = weight.dtype
    weight, bias = weight.view(params, 1), bias.view(params, 1)
    mean = x.new_empty((*rows, params, 1), dtype=dtype)
    rstd = torch.empty_like(mean)
    gate = torch.empty_like(_half(mean, 0))
    eps = x.new_tensor(eps, dtype=dtype)
    sizes = _chunk_sizes(x5.shape, x.device)
    scratch = [x.new_empty((*sizes, params, hw), dtype=dtype)]
    cweight, sweight = _half(weight, 0), _half(weight, 1)
    cbias, sbias = _half(bias, 0), _half(bias, 1)
    for xk, mk, rk, (oc, os), gc in zip(
        _chunks(x5, sizes),
        _chunks(mean, sizes),
        _chunks(rstd, sizes),
        zip(*_halves(out5, sizes)),
        _chunks(gate, sizes),
    ):
        torch.mean(xk, -1, keepdim=True, dtype=dtype, out=mk)
        d = torch.sub(xk, mk, out=_scratch(scratch, xk)[0])
        torch.linalg.vector_norm(d, dim=-1, keepdim=True, out=rk)
        torch.addcmul(eps, rk, rk, value=1 / hw, out=rk).rsqrt_()
        # channel attention: y = x * sigmoid(W * mean + B)
        torch.addcmul(cbias, cweight, _half(mk, 0), out=gc).sigmoid_()
        torch.mul(_half(xk, 0), gc, out=oc)
        # spatial attention: y = x * sigmoid(W * rstd * (x - mean) + B)
        ds = _half(d, 1)
        ds.mul_(torch.mul(sweight, _half(rk, 1))).add_(sbias).sigmoid_()
        torch.mul(_half(xk, 1), ds, out=os)
    return out, mean.view(x.shape[:2]), rstd.view(x.shape[:2])


def backward_torch(
    grad_out: Tensor,
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    mean: Tensor,
    rstd: Tensor,
    grad_x: Tensor,
) -> Tuple[Tensor, Tensor]:
    """Write the input gradient of :func:`forward_torch` into ``grad_x``.

    Args:
        grad_out (Tensor): Gradient of the output, H and W mergeable.
        x (Tensor): The forward's input.
        weight (Tensor): Gate weights, P elements, in the compute dtype.
        bias (Tensor): Gate biases, P elements, in the compute dtype.
        mean (Tensor): The forward's plane means, (N, C).
        rstd (Tensor): The forward's plane inverse std, (N, C).
        grad_x (Tensor): Output like ``x``.

    Returns:
        tuple[Tensor, Tensor]: Gradients of ``weight`` and ``bias`` (P,).
    """
    params = weight.numel()
    x5, g5 = plane_view(x, params), shuffled_output_view(grad_out, params)
    dx5 = plane_view(grad_x, params)
    hw = x5.shape[-1]
    dtype = mean.dtype
    mean, rstd = mean.view(*x5.shape[:-1], 1), rstd.view(*x5.shape[:-1], 1)
    weight, bias = weight.view(-1, 1), bias.view(-1, 1)
    # per-plane constants, (N, R, G', P / 2, 1) for each half
    cweight, sweight = _half(weight, 0), _half(weight, 1)
    cbias, sbias = _half(bias, 0), _half(bias, 1)
    cmean, smean, srstd = _half(mean, 0), _half(mean, 1), _half(rstd, 1)
    gate = torch.addcmul(cbias, cweight, cmean).sigmoid_()
    slope = gate * (1 - gate)
    weight_hw = (cweight / hw).expand_as(cmean)
    a = sweight * srstd
    a_hw = a / hw
    a_rstd2_hw = a_hw * srstd.square()
    # per-plane sums: dL/dlogit of the channel gate, S1 and t of the spatial planes
    grad_logit, sum_u, sum_ud = (torch.empty_like(cmean) for _ in range(3))
    sizes = _chunk_sizes(x5.shape, x.device)
    scratch = [x.new_empty((*sizes, params // 2, hw), dtype=dtype) for _ in range(4)]
    for (
        xc,
        xs,
        gc,
        gs,
        dxc,
        dxs,
        sc,
        slope_c,
        w_hw_c,
        dlogit_c,
        ms,
        a_s,
        a_hw_s,
        ar_s,
        s1_s,
        t_s,
    ) in zip(
        *_halves(x5, sizes),
        *_halves(g5, sizes),
        *_halves(dx5, sizes),
        *(
            _chunks(t, sizes)
            for t in (gate, slope, weight_hw, grad_logit, smean, a, a_hw, a_rstd2_hw, sum_u, sum_ud)
        ),
    ):
        buf = _scratch(scratch, xc)
        # channel attention: dlogit = s (1 - s) sum(g x); dx = g s + W dlogit / HW
        torch.sum(torch.mul(gc, xc, out=buf[0]), -1, keepdim=True, out=dlogit_c)
        dlogit_c.mul_(slope_c)
        torch.mul(gc, sc, out=dxc).add_(torch.mul(w_hw_c, dlogit_c))
        # spatial attention: recompute d = x - mean and the gate s
        d = torch.sub(xs, ms, out=buf[0])
        s = torch.mul(d, a_s, out=buf[1]).add_(sbias).sigmoid_()
        u = torch.mul(gs, xs, out=buf[2])
        torch.ops.aten.sigmoid_backward.grad_input(u, s, grad_input=u)  # g x s (1 - s)
        torch.sum(u, -1, keepdim=True, out=s1_s)
        torch.sum(torch.mul(u, d, out=buf[3]), -1, keepdim=True, out=t_s)
        # dx = g s + a u - a rstd^2 t (x - mean) / HW - a S1 / HW
        u.mul_(a_s).addcmul_(d, torch.mul(ar_s, t_s), value=-1)
        u.sub_(torch.mul(a_hw_s, s1_s))
        torch.addcmul(u, gs, s, out=dxs)
    # parameter gradients, summed over all planes in a fixed order
    grad_weight = torch.cat(
        [(grad_logit * cmean).sum((0, 1, 2)), (sum_ud * srstd).sum((0, 1, 2))]
    ).view(-1)
    grad_bias = torch.cat([grad_logit.sum((0, 1, 2)), sum_u.sum((0, 1, 2))]).view(-1)
    return grad_weight, grad_bias
