"""Fast Shuffle Attention: a custom autograd Function with an analytic backward.

Every output channel of Shuffle Attention depends only on its own input
channel: ``y = x * sigmoid(a * x + b)`` with per-(sample, channel) ``a``, ``b``
built from that channel's mean and inverse std, followed by a fixed channel
permutation (the shuffle). This file computes it in one pass over memory:

- a row is one (sample, channel) plane of ``H * W`` values. Rows are walked
  in chunks small enough to stay in cache; per chunk the statistics, the gate
  and the output are computed before the next chunk is read;
- the shuffle costs nothing: the output is written through a strided view
  (:func:`sa_rows_view`), so no separate shuffle copy is made;
- backward recomputes the gate from ``x`` and the per-row statistics, so the
  only activation-sized tensor saved for backward is ``x`` itself.

With ``W``, ``B`` the per-row gate parameters (see :func:`sa_gate_params`):

- channel rows: ``y = x * s``, ``s = sigmoid(W * mean + B)``;
- spatial rows: ``y = x * s``, ``s = sigmoid(a * (x - mean) + B)``,
  ``a = W * rstd``, ``rstd = 1 / sqrt(var + eps)``.

For ``u = g * x * s * (1 - s)`` (``g`` the output gradient) per row
``S1 = sum(u)`` and ``t = sum(u * (x - mean))``; then

- channel rows: ``dB = s * (1 - s) * sum(g * x)``, ``dW = dB * mean``,
  ``dx = g * s + W * dB / HW``;
- spatial rows: ``dB = S1``, ``dW = rstd * t``,
  ``dx = g * s + a * (u - rstd^2 * t * (x - mean) / HW - S1 / HW)``
  (the last two terms are the paths through ``mean`` and ``rstd``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

#: Elements of one input chunk; a chunk and its scratch buffers stay in cache.
CHUNK_NUMEL = 1 << 17


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
    chunk holds at most ``CHUNK_NUMEL`` elements (or one group)."""
    n, rows, half_groups, channels, hw = shape
    per_group = channels * hw
    if per_group * half_groups * rows <= CHUNK_NUMEL:
        return max(1, CHUNK_NUMEL // (per_group * half_groups * rows)), rows, half_groups
    if per_group * half_groups <= CHUNK_NUMEL:
        return 1, 1, half_groups
    return 1, 1, max(1, CHUNK_NUMEL // per_group)


def _chunks(t: Tensor, sizes: Tuple[int, int, int]) -> List[Tensor]:
    """Split the first three axes of ``t`` into chunks of the given sizes."""
    if tuple(t.shape[:3]) == sizes:
        return [t]
    return [c for tn in t.split(sizes[0]) for tr in tn.split(sizes[1], 1)
            for c in tr.split(sizes[2], 2)]


def _mergeable(x: Tensor) -> Tensor:
    """``x``, or a contiguous copy if its H and W dims cannot be merged."""
    if x.shape[2] > 1 and x.stride(2) != x.shape[3] * x.stride(3):
        return x.contiguous()
    return x


def _half(t: Tensor, branch: int) -> Tensor:
    """Channel (0) or spatial (1) attention half of the channel axis -2."""
    half = t.shape[-2] // 2
    return t[..., :half, :] if branch == 0 else t[..., half:, :]


class ShuffleAttentionFunction(torch.autograd.Function):
    """Shuffle Attention as one autograd node with an analytic backward.

    See :func:`shuffle_attention` for the arguments. The spatial-attention
    gate ``sigmoid(W * xhat + B)`` of each chunk comes from one
    ``native_group_norm`` call (one group per channel, ``W`` and ``B`` as its
    affine; the channel-attention channels get ``W = B = 0`` there and use
    only its per-row mean), and its gradient from ``native_group_norm_backward``.
    Saved for backward: ``x`` and the per-row mean and inverse std.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float,
                shuffle: bool, inplace: bool) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            x = _mergeable(x)
            out = x if inplace else torch.empty_like(x)
            x5 = sa_group_view(x, groups, shuffled=not shuffle)
            out5 = sa_shuffled_output_view(out, groups) if shuffle else sa_group_view(
                out, groups, shuffled=True)
            channels, hw = x5.shape[-2:]
            half = channels // 2
            dtype = torch.promote_types(x.dtype, weight.dtype)
            zeros = weight.new_zeros(half, dtype=dtype)
            gn_weight = torch.cat([zeros, weight[half:].to(dtype)])
            gn_bias = torch.cat([zeros, bias[half:].to(dtype)])
            cweight, cbias = weight[:half].to(dtype), bias[:half].to(dtype)
            sizes = _chunk_sizes(x5.shape)
            means, rstds = [], []
            for xc, oc in zip(_chunks(x5, sizes), _chunks(out5, sizes)):
                xg = xc.reshape(-1, channels, hw)
                z, mean, rstd = torch.native_group_norm(xg, gn_weight, gn_bias, len(xg), channels,
                                                        hw, channels, eps)
                means.append(mean)
                rstds.append(rstd)
                gate = torch.addcmul(cbias, cweight, mean[:, :half]).sigmoid_()
                gate = gate.view(*xc.shape[:3], half, 1)
                z = _half(z.view(xc.shape), 1).sigmoid_()
                torch.mul(_half(xc, 0), gate, out=_half(oc, 0))
                torch.mul(_half(xc, 1), z, out=_half(oc, 1))
            mean, rstd = torch.cat(means), torch.cat(rstds)
        ctx.groups, ctx.eps, ctx.shuffle = groups, eps, shuffle
        ctx.save_for_backward(x, weight, bias, mean, rstd)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        x, weight, bias, mean, rstd = ctx.saved_tensors
        groups, shuffle = ctx.groups, ctx.shuffle
        with torch.autocast(x.device.type, enabled=False):
            grad_out = _mergeable(grad_out)
            grad_x = torch.empty_like(x)
            x5 = sa_group_view(x, groups, shuffled=not shuffle)
            dx5 = sa_group_view(grad_x, groups, shuffled=not shuffle)
            g5 = sa_shuffled_output_view(grad_out, groups) if shuffle else sa_group_view(
                grad_out, groups, shuffled=True)
            channels, hw = x5.shape[-2:]
            half = channels // 2
            dtype = mean.dtype
            weight, bias = weight.to(dtype), bias.to(dtype)
            # per-row constants and sums, (N, R, G / 2, C' / 2, 1) per half
            rows = (*x5.shape[:3], channels, 1)
            mean, rstd = mean.view(rows), rstd.view(rows)
            weight, bias = weight.view(channels, 1), bias.view(channels, 1)
            cmean, smean, srstd = _half(mean, 0), _half(mean, 1), _half(rstd, 1)
            gate = torch.addcmul(_half(bias, 0), _half(weight, 0), cmean).sigmoid_()
            slope = gate * (1 - gate)
            weight_hw = (_half(weight, 0) / hw).expand_as(cmean)
            a = _half(weight, 1) * srstd
            a_hw = a / hw
            a_rstd2_hw = a_hw * srstd.square()
            grad_logit, sum_u, sum_ud = (torch.empty_like(cmean) for _ in range(3))
            sizes = _chunk_sizes(x5.shape)
            scratch = [x.new_empty((*sizes, half, hw), dtype=dtype) for _ in range(4)]
            chunked = [_chunks(t, sizes) for t in (
                x5, g5, dx5, gate, slope, weight_hw, grad_logit, smean, a, a_hw, a_rstd2_hw,
                sum_u, sum_ud)]
            sbias = _half(bias, 1)
            for xc, gc, dxc, sc, slope_c, w_hw_c, dlogit_c, ms, a_s, a_hw_s, ar_s, s1_s, t_s in zip(
                    *chunked):
                n, r, g = xc.shape[:3]
                buf = [b[:n, :r, :g] for b in scratch]
                # channel attention: dlogit = s (1 - s) sum(g x); dx = g s + W dlogit / HW
                xh, gh, dxh = _half(xc, 0), _half(gc, 0), _half(dxc, 0)
                torch.sum(torch.mul(gh, xh, out=buf[0]), -1, keepdim=True, out=dlogit_c)
                dlogit_c.mul_(slope_c)
                torch.mul(gh, sc, out=dxh).add_(torch.mul(w_hw_c, dlogit_c))
                # spatial attention: recompute d = x - mean and the gate s
                xh, gh, dxh = _half(xc, 1), _half(gc, 1), _half(dxc, 1)
                d = torch.sub(xh, ms, out=buf[0])
                s = torch.mul(d, a_s, out=buf[1]).add_(sbias).sigmoid_()
                u = torch.mul(gh, xh, out=buf[2])
                torch.ops.aten.sigmoid_backward.grad_input(u, s, grad_input=u)  # g x s (1 - s)
                torch.sum(u, -1, keepdim=True, out=s1_s)
                torch.sum(torch.mul(u, d, out=buf[3]), -1, keepdim=True, out=t_s)
                # dx = g s + a u - a rstd^2 t (x - mean) / HW - a S1 / HW
                u.mul_(a_s).addcmul_(d, torch.mul(ar_s, t_s), value=-1)
                u.sub_(torch.mul(a_hw_s, s1_s))
                torch.addcmul(u, gh, s, out=dxh)
            # parameter gradients, summed over all rows
            grad_weight = torch.cat([(grad_logit * cmean).sum((0, 1, 2)),
                                     (sum_ud * srstd).sum((0, 1, 2))]).view(-1)
            grad_bias = torch.cat([grad_logit.sum((0, 1, 2)), sum_u.sum((0, 1, 2))]).view(-1)
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
