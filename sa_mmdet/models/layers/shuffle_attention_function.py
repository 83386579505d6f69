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
from typing import List, Optional, Tuple

import torch
from torch import Tensor

#: Elements of one input chunk; a chunk and its scratch buffers stay in cache.
CHUNK_NUMEL = 1 << 17


def sa_rows_view(t: Tensor, groups: int, shuffled: bool) -> Tensor:
    """View an (N, C, H, W) tensor as Shuffle Attention rows.

    The view has shape (N, 2, G / 2, 2, k, H * W), ``k = C / 2G``, and is
    indexed ``[n, r, g, branch, j]`` by the channel's place before the
    shuffle: pre-shuffle channel ``p = r * C / 2 + g * 2k + branch * k + j``
    (group ``r * G / 2 + g``; branch 0 is channel attention, 1 spatial
    attention; ``j`` indexes the shared parameters). After the shuffle that
    channel sits at ``2 * (p - r * C / 2) + r``.

    Args:
        t (Tensor): Tensor of shape (N, C, H, W) whose H and W dims can be
            merged (contiguous or channels_last).
        groups (int): Number of SA groups ``G``, even.
        shuffled (bool): Whether the channels of ``t`` are in shuffled
            (output) order rather than pre-shuffle order.

    Returns:
        Tensor: A view of ``t`` of shape (N, 2, G / 2, 2, k, H * W).
    """
    n, c, h, w = t.shape
    k = c // (2 * groups)
    if shuffled:
        return t.view(n, groups // 2, 2, k, 2, h * w).permute(0, 4, 1, 2, 3, 5)
    return t.view(n, 2, groups // 2, 2, k, h * w)


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


def _chunk_sizes(n: int, half_groups: int, k: int, hw: int) -> Tuple[int, int, int]:
    """Chunk sizes along (N, 2, G / 2) of the rows so a chunk has at most
    ``CHUNK_NUMEL`` input elements (or a single group)."""
    per_group = 2 * k * hw
    if per_group * half_groups * 2 <= CHUNK_NUMEL:
        return max(1, CHUNK_NUMEL // (per_group * half_groups * 2)), 2, half_groups
    if per_group * half_groups <= CHUNK_NUMEL:
        return 1, 1, half_groups
    return 1, 1, max(1, CHUNK_NUMEL // per_group)


def _chunks(t: Tensor, sizes: Tuple[int, int, int]) -> List[Tensor]:
    """Split a (N, 2, G / 2, ...) tensor into chunks of the given sizes."""
    return [c for tn in t.split(sizes[0]) for tr in tn.split(sizes[1], 1)
            for c in tr.split(sizes[2], 2)]


def _rows_view(x: Tensor, groups: int, shuffled: bool) -> Tuple[Tensor, Tensor]:
    """``x`` (densified if H and W cannot be merged) and its rows view."""
    try:
        return x, sa_rows_view(x, groups, shuffled)
    except RuntimeError:
        x = x.contiguous()
        return x, sa_rows_view(x, groups, shuffled)


class ShuffleAttentionFunction(torch.autograd.Function):
    """``y = shuffle(x * sigmoid(a * x + b))`` with an analytic backward.

    See :func:`shuffle_attention` for the arguments. Saved for backward:
    ``x`` and two statistics per row (per sample and channel).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float,
                shuffle: bool, inplace: bool) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            x_in, x6 = _rows_view(x, groups, shuffled=not shuffle)
            out = x if inplace and x_in is x else torch.empty_like(x_in)
            out6 = sa_rows_view(out, groups, shuffled=True)
            n, _, half_groups, _, k, hw = x6.shape
            dtype = torch.promote_types(x.dtype, weight.dtype)
            rows = (n, 2, half_groups, 2, k, 1)
            weight = weight.to(dtype).expand(rows)
            bias = bias.to(dtype).expand(rows)
            # per row: channel branch (mean, gate), spatial branch (mean, rstd)
            mean = x.new_empty(rows, dtype=dtype)
            stat = x.new_empty(rows, dtype=dtype)
            sizes = _chunk_sizes(n, half_groups, k, hw)
            scratch = x.new_empty((*sizes, k, hw), dtype=dtype)
            inv_hw = 1.0 / hw
            eps_t = x.new_tensor(eps, dtype=dtype)
            chunked = [_chunks(t.select(3, branch), sizes)
                       for t in (x6, out6, weight, bias, mean, stat) for branch in (0, 1)]
            for xc, xs, oc, os, wc, ws, bc, bs, mc, ms, gc, rs in zip(*chunked):
                # channel branch: y = x * sigmoid(W * mean + B)
                torch.mean(xc, -1, keepdim=True, dtype=dtype, out=mc)
                torch.addcmul(bc, wc, mc, out=gc).sigmoid_()
                torch.mul(xc, gc, out=oc)
                # spatial branch: y = x * sigmoid(W * rstd * (x - mean) + B)
                torch.mean(xs, -1, keepdim=True, dtype=dtype, out=ms)
                d = torch.sub(xs, ms, out=scratch[:len(xs), :xs.shape[1], :xs.shape[2]])
                torch.linalg.vector_norm(d, dim=-1, keepdim=True, out=rs)
                torch.addcmul(eps_t, rs, rs, value=inv_hw, out=rs).rsqrt_()
                d.mul_(torch.mul(ws, rs)).add_(bs).sigmoid_()
                torch.mul(xs, d, out=os)
        ctx.groups, ctx.shuffle = groups, shuffle
        ctx.save_for_backward(x_in, weight, bias, mean, stat)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        x, weight, bias, mean, stat = ctx.saved_tensors
        groups = ctx.groups
        with torch.autocast(x.device.type, enabled=False):
            x6 = sa_rows_view(x, groups, shuffled=not ctx.shuffle)
            g6 = _rows_view(grad_out, groups, shuffled=True)[1]
            grad_x = torch.empty_like(x)
            dx6 = sa_rows_view(grad_x, groups, shuffled=not ctx.shuffle)
            n, _, half_groups, _, k, hw = x6.shape
            inv_hw = 1.0 / hw
            # per-row constants on tiny tensors
            gate, rstd = stat.select(3, 0), stat.select(3, 1)
            gate_slope = gate * (1 - gate)
            weight_hw = weight.select(3, 0) * inv_hw
            a = weight.select(3, 1) * rstd
            a_hw = a * inv_hw
            a_rstd2_hw = a_hw * rstd.square()
            # per-row sums: channel rows dB; spatial rows S1 and t
            grad_bias = torch.empty_like(stat)
            db, s1 = grad_bias.select(3, 0), grad_bias.select(3, 1)
            t = torch.empty_like(rstd)
            sizes = _chunk_sizes(n, half_groups, k, hw)
            scratch = [x.new_empty((*sizes, k, hw), dtype=stat.dtype) for _ in range(4)]
            chunked = [_chunks(v, sizes) for v in (
                x6.select(3, 0), g6.select(3, 0), dx6.select(3, 0), gate, gate_slope, weight_hw,
                db, x6.select(3, 1), g6.select(3, 1), dx6.select(3, 1), mean.select(3, 1),
                bias.select(3, 1), a, a_hw, a_rstd2_hw, s1, t)]
            for (xc, gc, dxc, sc, slope_c, w_hw_c, db_c,
                 xs, gs, dxs, ms, bs, a_s, a_hw_s, ar_s, s1_s, t_s) in zip(*chunked):
                shape = xc.shape
                buf = [b[:shape[0], :shape[1], :shape[2]] for b in scratch]
                # channel branch: dB = s (1 - s) sum(g x); dx = g s + W dB / HW
                torch.sum(torch.mul(gc, xc, out=buf[0]), -1, keepdim=True, out=db_c).mul_(slope_c)
                torch.mul(gc, sc, out=dxc).add_(torch.mul(w_hw_c, db_c))
                # spatial branch: recompute d = x - mean and the gate s
                d = torch.sub(xs, ms, out=buf[0])
                s = torch.mul(d, a_s, out=buf[1]).add_(bs).sigmoid_()
                u = torch.mul(gs, xs, out=buf[2])
                torch.ops.aten.sigmoid_backward.grad_input(u, s, grad_input=u)
                torch.sum(u, -1, keepdim=True, out=s1_s)
                torch.sum(torch.mul(u, d, out=buf[3]), -1, keepdim=True, out=t_s)
                # dx = g s + a u - a rstd^2 t (x - mean) / HW - a S1 / HW
                u.mul_(a_s).addcmul_(d, torch.mul(ar_s, t_s), value=-1)
                u.sub_(torch.mul(a_hw_s, s1_s))
                torch.addcmul(u, gs, s, out=dxs)
            grad_weight = torch.empty_like(stat)
            torch.mul(db, mean.select(3, 0), out=grad_weight.select(3, 0))
            torch.mul(t, rstd, out=grad_weight.select(3, 1))
        if not ctx.needs_input_grad[0]:
            grad_x = None
        return grad_x, grad_weight, grad_bias, None, None, None, None


def shuffle_attention(x: Tensor, weight: Tensor, bias: Tensor, groups: int, eps: float = 1e-5,
                      shuffle: bool = True, inplace: bool = False) -> Tensor:
    """Fast Shuffle Attention on an (N, C, H, W) tensor.

    Args:
        x (Tensor): Input of shape (N, C, H, W), C divisible by ``2 * groups``.
        weight (Tensor): Gate weight per row, broadcastable to
            (N, 2, G / 2, 2, k) (the rows of :func:`sa_rows_view`), e.g. the
            (2, k) output of :func:`sa_gate_params`.
        bias (Tensor): Gate bias, same broadcasting as ``weight``.
        groups (int): Number of SA groups ``G``; must be even.
        eps (float): Epsilon of the spatial-branch normalisation.
            Defaults to 1e-5.
        shuffle (bool): Whether ``x`` is in pre-shuffle order (the output is
            shuffled); ``False`` when the shuffle was folded into the layer
            before. Defaults to True.
        inplace (bool): Write the result into ``x`` when possible (``shuffle``
            False, no autograd on ``x``, ``x`` contiguous or channels_last).
            Defaults to False.

    Returns:
        Tensor: Output of the shape and memory format of ``x``.
    """
    if groups < 2 or groups % 2 or x.shape[1] % (2 * groups):
        raise ValueError(f'the fast Shuffle Attention needs an even groups >= 2 with C divisible '
                         f'by 2 * groups, but got groups={groups}, C={x.shape[1]}; use '
                         f'ShuffleAttention(implementation="reference") for odd groups.')
    inplace = inplace and not shuffle and not (torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or bias.requires_grad))
    return ShuffleAttentionFunction.apply(x, weight.unsqueeze(-1), bias.unsqueeze(-1), groups,
                                          eps, shuffle, inplace)
