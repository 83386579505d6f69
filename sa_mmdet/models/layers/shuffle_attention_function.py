"""Fast Shuffle Attention: one autograd node with an analytic backward.

Every output channel of Shuffle Attention depends only on its own input
channel, followed by a fixed channel permutation (the shuffle). With ``W``,
``B`` the gate weight and bias of a channel (see :func:`sa_gate_params`) and
``mean``, ``rstd = 1 / sqrt(var + eps)`` its statistics over H x W:

- channel-attention channels: ``y = x * s``, ``s = sigmoid(W * mean + B)``;
- spatial-attention channels: ``y = x * s``, ``s = sigmoid(a * (x - mean) + B)``
  with ``a = W * rstd``.

A row is one (sample, channel) plane. Rows are walked in chunks of at most
:data:`CHUNK_NUMEL` elements; a chunk's statistics, gates and outputs are all
computed before the next chunk is read, so the input is read from memory once
and the later passes hit the cache. The output is written through a strided
view (:func:`sa_shuffled_output_view`), so the shuffle costs no copy.

Backward recomputes the gates from ``x`` and the saved statistics, so ``x``
is the only activation-sized tensor saved. With ``g`` the output gradient,
``u = g * x * s * (1 - s)``, ``S1 = sum(u)`` and ``t = sum(u * (x - mean))``
per row:

- channel attention: ``dlogit = s * (1 - s) * sum(g * x)``,
  ``dx = g * s + W * dlogit / HW``, ``dW = dlogit * mean``, ``dB = dlogit``;
- spatial attention: ``dx = g * s + a * u - a * rstd^2 * t * (x - mean) / HW
  - a * S1 / HW`` (the last two terms are the paths through ``rstd`` and
  ``mean``), ``dW = rstd * t``, ``dB = S1``.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .sa_ext import sa_backward, sa_forward, sa_kernel_applies

#: Input elements per chunk and intra-op thread: a chunk's passes after the
#: first one hit the cache, while the per-chunk Python overhead and the number
#: of parallel regions (one per op and chunk) stay small next to the work.
CHUNK_NUMEL = 1 << 19


def sa_gate_params(cweight: Tensor, cbias: Tensor, sweight: Tensor, sbias: Tensor,
                   gn_weight: Tensor, gn_bias: Tensor) -> Tuple[Tensor, Tensor]:
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


def sa_group_view(t: Tensor, groups: int, shuffled: bool) -> Tensor:
    """View an (N, C, H, W) tensor as (N, R, G / 2, C', H * W) SA rows.

    A row is one (sample, channel) plane. The view puts the channels of two
    adjacent SA sub-features on the last-but-one axis so that a chunk of the
    view (split along the first three axes) is a dense block of memory:

    - pre-shuffle order (``shuffled=False``): ``R = 2``, ``C' = 2k`` and
      element ``[n, r, g, c]`` is channel ``r * C / 2 + g * 2k + c``;
    - shuffled order (``shuffled=True``, the output of the shuffle): ``R = 1``,
      ``C' = 4k`` and element ``[n, 0, g, c]`` is channel ``g * 4k + c``,
      which holds pre-shuffle channel ``(c % 2) * C / 2 + g * 2k + c // 2``.

    In both, the first half of ``C'`` is channel attention and the second
    half spatial attention, and ``c`` determines which shared parameter
    ``j`` applies (``k = C / 2G``, ``j = c % k`` resp. ``(c // 2) % k``).

    Args:
        t (Tensor): Tensor of shape (N, C, H, W) whose H and W dims can be
            merged (contiguous or channels_last).
        groups (int): Number of SA groups ``G``, even.
        shuffled (bool): Whether the channels of ``t`` are in shuffled order.

    Returns:
        Tensor: A view of ``t`` of shape (N, R, G / 2, C', H * W).
    """
    n, c, h, w = t.shape
    if shuffled:
        return t.view(n, 1, groups // 2, 2 * c // groups, h * w)
    return t.view(n, 2, groups // 2, c // groups, h * w)


def sa_shuffled_output_view(t: Tensor, groups: int) -> Tensor:
    """View the shuffled output of SA in the pre-shuffle layout of :func:`sa_group_view`.

    Args:
        t (Tensor): Tensor of shape (N, C, H, W) in shuffled channel order.
        groups (int): Number of SA groups ``G``, even.

    Returns:
        Tensor: A (strided) view of shape (N, 2, G / 2, 2k, H * W) indexed
        like ``sa_group_view(x, groups, shuffled=False)``.
    """
    n, c, h, w = t.shape
    return t.view(n, groups // 2, c // groups, 2, h * w).permute(0, 3, 1, 2, 4)


def _chunk_sizes(shape: Sequence[int]) -> Tuple[int, int, int]:
    """Chunk sizes along the first three axes of an SA group view so that a
    chunk holds at most ``CHUNK_NUMEL`` elements per thread (or one group)."""
    n, rows, half_groups, channels, hw = shape
    budget = CHUNK_NUMEL * torch.get_num_threads()
    per_group = channels * hw
    if per_group * half_groups * rows <= budget:
        return min(n, budget // (per_group * half_groups * rows)), rows, half_groups
    if per_group * half_groups <= budget:
        return 1, 1, half_groups
    return 1, 1, max(1, budget // per_group)


def _split(t: Tensor, size: int, dim: int) -> List[Tensor]:
    length = t.shape[dim]
    if size >= length:
        return [t]
    return t.split_with_sizes([size] * (length // size) + [length % size] * (length % size > 0),
                              dim)


def _chunks(t: Tensor, sizes: Tuple[int, int, int]) -> List[Tensor]:
    """Split the first three axes of ``t`` into chunks of the given sizes."""
    return [c for tn in _split(t, sizes[0], 0) for tr in _split(tn, sizes[1], 1)
            for c in _split(tr, sizes[2], 2)]


def _mergeable(x: Tensor) -> Tensor:
    """``x``, or a contiguous copy if its H and W dims cannot be merged."""
    try:
        x.view(*x.shape[:2], -1)
    except RuntimeError:
        return x.contiguous()
    return x


def _views(x: Tensor, y: Tensor, groups: int, shuffle: bool) -> Tuple[Tensor, Tensor]:
    """Group views of an SA input ``x`` and an output-side tensor ``y``."""
    x5 = sa_group_view(x, groups, shuffled=not shuffle)
    y5 = sa_shuffled_output_view(y, groups) if shuffle else sa_group_view(y, groups, True)
    return x5, y5


def _half(t: Tensor, branch: int) -> Tensor:
    """Channel (0) or spatial (1) attention half of the channel axis -2."""
    half = t.shape[-2] // 2
    return t.narrow(-2, branch * half, half)


def _halves(t: Tensor, sizes: Tuple[int, int, int]) -> Tuple[List[Tensor], List[Tensor]]:
    """Chunks of the channel and of the spatial attention half of ``t``."""
    return _chunks(_half(t, 0), sizes), _chunks(_half(t, 1), sizes)


def _scratch(buffers: List[Tensor], like: Tensor) -> List[Tensor]:
    """Scratch buffers cut to the shape of a chunk (the last one may be smaller)."""
    if buffers[0].shape == like.shape:
        return buffers
    return [b[:like.shape[0], :like.shape[1], :like.shape[2]] for b in buffers]


def _forward_torch(x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float,
                   shuffle: bool, inplace: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Pure-PyTorch forward of :class:`ShuffleAttentionFunction`.

    Returns ``x`` (made mergeable), the output, the row means and the
    spatial-attention rows' inverse std, in the group-view layout.
    """
    x = _mergeable(x)
    out = x if inplace else torch.empty_like(x)
    x5, out5 = _views(x, out, groups, shuffle)
    rows, (channels, hw) = x5.shape[:3], x5.shape[3:]
    half = channels // 2
    dtype = weight.dtype
    weight, bias = weight.view(channels, 1), bias.view(channels, 1)
    mean = x.new_empty((*rows, channels, 1), dtype=dtype)
    rstd = x.new_empty((*rows, half, 1), dtype=dtype)
    gate = torch.empty_like(rstd)
    eps = x.new_tensor(eps, dtype=dtype)
    sizes = _chunk_sizes(x5.shape)
    scratch = [x.new_empty((*sizes, half, hw), dtype=dtype)]
    cweight, sweight = _half(weight, 0), _half(weight, 1)
    cbias, sbias = _half(bias, 0), _half(bias, 1)
    for xc, xs, oc, os, mc, ms, gc, rs in zip(
            *_halves(x5, sizes), *_halves(out5, sizes), *_halves(mean, sizes),
            _chunks(gate, sizes), _chunks(rstd, sizes)):
        # channel attention: y = x * sigmoid(W * mean + B)
        torch.mean(xc, -1, keepdim=True, dtype=dtype, out=mc)
        torch.addcmul(cbias, cweight, mc, out=gc).sigmoid_()
        torch.mul(xc, gc, out=oc)
        # spatial attention: y = x * sigmoid(W * rstd * (x - mean) + B)
        torch.mean(xs, -1, keepdim=True, dtype=dtype, out=ms)
        d = torch.sub(xs, ms, out=_scratch(scratch, xs)[0])
        torch.linalg.vector_norm(d, dim=-1, keepdim=True, out=rs)
        torch.addcmul(eps, rs, rs, value=1 / hw, out=rs).rsqrt_()
        d.mul_(torch.mul(sweight, rs)).add_(sbias).sigmoid_()
        torch.mul(xs, d, out=os)
    return x, out, mean, rstd


def _backward_torch(grad_out: Tensor, x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor,
                    rstd: Tensor, groups: int, shuffle: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """Pure-PyTorch backward of :class:`ShuffleAttentionFunction`: the
    gradients of ``x``, ``weight`` and ``bias`` from :func:`_forward_torch`'s
    saved tensors."""
    grad_out = _mergeable(grad_out)
    grad_x = torch.empty_like(x)
    x5, g5 = _views(x, grad_out, groups, shuffle)
    dx5 = sa_group_view(grad_x, groups, shuffled=not shuffle)
    hw = x5.shape[-1]
    dtype = mean.dtype
    weight, bias = weight.view(-1, 1), bias.view(-1, 1)
    # per-row constants, (N, R, G / 2, C' / 2, 1) for each half
    cweight, sweight = _half(weight, 0), _half(weight, 1)
    cbias, sbias = _half(bias, 0), _half(bias, 1)
    cmean, smean = _half(mean, 0), _half(mean, 1)
    gate = torch.addcmul(cbias, cweight, cmean).sigmoid_()
    slope = gate * (1 - gate)
    weight_hw = (cweight / hw).expand_as(cmean)
    a = sweight * rstd
    a_hw = a / hw
    a_rstd2_hw = a_hw * rstd.square()
    # per-row sums: dL/dlogit of the channel gate, S1 and t of the spatial rows
    grad_logit, sum_u, sum_ud = (torch.empty_like(cmean) for _ in range(3))
    sizes = _chunk_sizes(x5.shape)
    scratch = [x.new_empty((*sizes, *gate.shape[-2:-1], hw), dtype=dtype) for _ in range(4)]
    for (xc, xs, gc, gs, dxc, dxs, sc, slope_c, w_hw_c, dlogit_c, ms, a_s, a_hw_s, ar_s, s1_s,
         t_s) in zip(*_halves(x5, sizes), *_halves(g5, sizes), *_halves(dx5, sizes),
                     *(_chunks(t, sizes) for t in (gate, slope, weight_hw, grad_logit, smean, a,
                                                    a_hw, a_rstd2_hw, sum_u, sum_ud))):
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
    # parameter gradients, summed over all rows
    grad_weight = torch.cat([(grad_logit * cmean).sum((0, 1, 2)),
                             (sum_ud * rstd).sum((0, 1, 2))]).view(-1)
    grad_bias = torch.cat([grad_logit.sum((0, 1, 2)), sum_u.sum((0, 1, 2))]).view(-1)
    return grad_x, grad_weight, grad_bias


def _backward_kernel(grad_out: Tensor, x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor,
                     rstd: Tensor, shuffle: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """Backward through the compiled kernel; the same results as :func:`_backward_torch`."""
    grad_out = grad_out.to(x.dtype).contiguous()
    grad_x = torch.empty_like(x)
    grad_weight, grad_bias = sa_backward(grad_out, x, weight, bias, mean, rstd, shuffle, grad_x)
    # the kernel returns per-(n, c) partial sums; reduce them in a fixed order
    return grad_x, grad_weight.view(-1, weight.numel()).sum(0), grad_bias.view(
        -1, bias.numel()).sum(0)


class ShuffleAttentionFunction(torch.autograd.Function):
    """Shuffle Attention as one autograd node with an analytic backward.

    See :func:`shuffle_attention` for the arguments and the module docstring
    for the math. Runs the compiled CPU kernel where it applies (contiguous
    NCHW CPU input, see :mod:`.sa_ext`), else the pure-PyTorch path; both
    compute the same function. Saved for backward: ``x``, the per-row mean
    and inverse std (the pure-PyTorch path keeps the latter for the
    spatial-attention rows only).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float,
                shuffle: bool, inplace: bool) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            dtype = torch.promote_types(x.dtype, weight.dtype)
            weight, bias = weight.to(dtype), bias.to(dtype)
            ctx.kernel = sa_kernel_applies(x, dtype)
            if ctx.kernel:
                out = x if inplace else torch.empty_like(x)
                mean, rstd = sa_forward(x, weight, bias, eps, shuffle, out)
            else:
                x, out, mean, rstd = _forward_torch(x, weight, bias, groups, eps, shuffle,
                                                    inplace)
        ctx.groups, ctx.shuffle = groups, shuffle
        ctx.save_for_backward(x, weight, bias, mean, rstd)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        x, weight, bias, mean, rstd = ctx.saved_tensors
        with torch.autocast(x.device.type, enabled=False):
            if ctx.kernel:
                grads = _backward_kernel(grad_out, x, weight, bias, mean, rstd, ctx.shuffle)
            else:
                grads = _backward_torch(grad_out, x, weight, bias, mean, rstd, ctx.groups,
                                        ctx.shuffle)
        grad_x, grad_weight, grad_bias = grads
        if not ctx.needs_input_grad[0]:
            grad_x = None
        return grad_x, grad_weight, grad_bias, None, None, None, None


def shuffle_attention(x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float = 1e-5,
                      shuffle: bool = True, inplace: bool = False) -> Tensor:
    """Fast Shuffle Attention on an (N, C, H, W) tensor.

    Args:
        x (Tensor): Input of shape (N, C, H, W), C divisible by ``2 * groups``.
        weight (Tensor): Gate weight of shape (2, k), ``k = C / 2G``, indexed
            ``[branch, j]`` (see :func:`sa_gate_params`).
        bias (Tensor): Gate bias of shape (2, k).
        groups (int): Number of SA groups ``G``; must be even.
        eps (float): Epsilon of the spatial-attention normalisation.
            Defaults to 1e-5.
        shuffle (bool): Whether ``x`` is in pre-shuffle order and the output
            is to be shuffled (ShuffleAttention); ``False`` when ``x`` is
            already in shuffled order and the output keeps that order (the
            deploy form, see :func:`sa_mmdet.deploy.fold_shuffle_attention`).
            Defaults to True.
        inplace (bool): Write the output into ``x``. Only taken when
            ``shuffle`` is False and no gradient is needed. Defaults to False.

    Returns:
        Tensor: Output of the shape, dtype and memory format of ``x``.
    """
    channels = x.shape[1]
    if groups < 2 or groups % 2 or channels % (2 * groups):
        raise ValueError(f'the fast Shuffle Attention needs an even groups >= 2 with C divisible '
                         f'by 2 * groups, but got groups={groups}, C={channels}; use '
                         f'ShuffleAttention(implementation="reference") for odd groups.')
    k = channels // (2 * groups)
    if weight.shape != (2, k) or bias.shape != (2, k):
        raise ValueError(f'weight and bias must have shape (2, {k}) for C={channels}, '
                         f'groups={groups}, but got {tuple(weight.shape)}, {tuple(bias.shape)}.')
    weight, bias = weight.reshape(-1), bias.reshape(-1)
    if not shuffle:  # sa_group_view(shuffled=True): channel c'' uses parameter c'' // 2
        weight, bias = weight.repeat_interleave(2), bias.repeat_interleave(2)
    inplace = inplace and not shuffle and not (torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or bias.requires_grad))
    return ShuffleAttentionFunction.apply(x, weight, bias, groups, eps, shuffle, inplace)
