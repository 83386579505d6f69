"""Triton kernels of Shuffle Attention (SA-Net, arXiv:2102.00240) for CUDA tensors.

The contract is that of the C++ CPU kernel: plane (n, c) of a contiguous (N, C, H, W) input
(``L = H * W`` elements) uses gate parameter ``j = c % P``, channel attention for ``j < P / 2``,
else spatial attention, and goes to output channel ``2 * (c % (C / 2)) + c // (C / 2)``.
Tile kernels hold ``ROWS`` whole planes in registers (``L <= TILE_MAX``); loop kernels read a
larger plane twice on a persistent grid. Statistics are float32; no atomics, so runs are
bit-identical. Only ``tl`` features of Triton 3.0-3.6. Design: docs/performance.md.
"""

import functools
from typing import Any, Dict, List, NamedTuple, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ['sa_forward_triton', 'sa_backward_triton']

#: Input dtypes the kernels take; statistics and parameters are float32 for each.
DTYPES = (torch.float32, torch.float16, torch.bfloat16)

#: Planes of at most this many elements use the tile kernels.
TILE_MAX = 4096


@triton.jit
def _gate_coefs(w, b, mean, rstd, spatial):
    """Slope and offset of the gate logit ``a * (x - mean) + b0`` of either kind."""
    a = tl.where(spatial, w * rstd, 0.0)
    b0 = tl.where(spatial, b, w * mean + b)
    return a, b0


@triton.jit
def _out_plane(p, C):
    """Output plane of input plane ``p = n * C + c`` (the channel shuffle with 2 groups)."""
    half = C // 2
    c = p % C
    return p - c + 2 * (c % half) + c // half


@triton.jit
def _grad_plane(p, C, G_ONE_PLANE: tl.constexpr):
    """Plane of the output gradient for input plane ``p``: plane 0 where one plane of it is
    expanded over N and C (``y.sum().backward()``), else ``p``'s output plane."""
    if G_ONE_PLANE:
        plane = p * 0
    else:
        plane = _out_plane(p, C)
    return plane


@triton.jit
def _fwd_tile_kernel(
    x_ptr, out_ptr, w_ptr, b_ptr, mean_ptr, rstd_ptr, NC, C, P, L, eps,
    L_DIV: tl.constexpr, BLOCK: tl.constexpr, ROWS: tl.constexpr,
):  # fmt: skip
    """Forward of ``ROWS`` whole planes per program, held in registers; ``L_DIV`` (a power of
    two <= 16 dividing ``L``) lets loads and stores vectorize for any ``L`` it divides."""
    stride = (L // L_DIV) * L_DIV  # = L, known to the compiler as a multiple of L_DIV
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    row_ok = rows < NC
    mask = row_ok[:, None] & (cols < stride)[None, :]
    x_offs = rows.to(tl.int64)[:, None] * stride + cols[None, :]
    x = tl.load(x_ptr + x_offs, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=1) / L
    d = tl.where(mask, x - mean[:, None], 0.0)
    # refine the mean by the mean of the residuals: exact to fp32 rounding for any plane mean
    shift = tl.sum(d, axis=1) / L
    mean += shift
    d = tl.where(mask, d - shift[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=1) / L + eps)
    j = (rows % C) % P
    w = tl.load(w_ptr + j, mask=row_ok, other=0.0)
    b = tl.load(b_ptr + j, mask=row_ok, other=0.0)
    a, b0 = _gate_coefs(w, b, mean, rstd, j >= P // 2)
    y = x / (1.0 + tl.exp(-(a[:, None] * d + b0[:, None])))
    y_offs = _out_plane(rows, C).to(tl.int64)[:, None] * stride + cols[None, :]
    tl.store(out_ptr + y_offs, y.to(out_ptr.dtype.element_ty), mask=mask)
    tl.store(mean_ptr + rows, mean, mask=row_ok)
    tl.store(rstd_ptr + rows, rstd, mask=row_ok)


@triton.jit
def _fwd_loop_kernel(
    x_ptr, out_ptr, w_ptr, b_ptr, mean_ptr, rstd_ptr, NC, C, P, L, eps, L_KEY, NC_KEY,
    L_DIV: tl.constexpr, BLOCK: tl.constexpr, STAGES: tl.constexpr, PROGS: tl.constexpr,
):  # fmt: skip
    """Forward of a plane at a time per program in two passes; ``L_KEY``, ``NC_KEY`` (tuning
    buckets) and ``PROGS`` (programs per SM, read by the grid) are unused in the body."""
    stride = (L // L_DIV) * L_DIV
    offs = tl.arange(0, BLOCK)
    n_blocks = tl.cdiv(L, BLOCK)
    for p in range(tl.program_id(0).to(tl.int64), NC, tl.num_programs(0)):  # p: int64
        x_base = x_ptr + p * stride
        # pass 1: sums of x - shift and its square, shift = mean of the first block
        m = offs < stride
        x0 = tl.load(x_base + offs, mask=m, other=0.0, eviction_policy='evict_last')
        x0 = x0.to(tl.float32)
        shift = tl.sum(x0, axis=0) / tl.minimum(L, BLOCK)
        d0 = tl.where(m, x0 - shift, 0.0)
        acc, acc_sq = d0, d0 * d0
        for start in tl.range(BLOCK, L, BLOCK, num_stages=STAGES):
            m = start + offs < stride
            x = tl.load(x_base + start + offs, mask=m, other=0.0, eviction_policy='evict_last')
            d = tl.where(m, x.to(tl.float32) - shift, 0.0)
            acc += d
            acc_sq += d * d
        mean_shifted = tl.sum(acc, axis=0) / L
        var = tl.maximum(tl.sum(acc_sq, axis=0) / L - mean_shifted * mean_shifted, 0.0)
        mean = shift + mean_shifted
        rstd = 1.0 / tl.sqrt(var + eps)
        tl.store(mean_ptr + p, mean)
        tl.store(rstd_ptr + p, rstd)
        j = (p % C) % P
        a, b0 = _gate_coefs(tl.load(w_ptr + j), tl.load(b_ptr + j), mean, rstd, j >= P // 2)
        # pass 2, last block first: the most recently read blocks are the likeliest in L2
        y_base = out_ptr + _out_plane(p, C) * stride
        for i in tl.range(0, n_blocks, num_stages=STAGES):
            start = (n_blocks - 1 - i) * BLOCK
            m = start + offs < stride
            x = tl.load(x_base + start + offs, mask=m, other=0.0, eviction_policy='evict_first')
            x = x.to(tl.float32)
            y = (x / (1.0 + tl.exp(-(a * (x - mean) + b0)))).to(out_ptr.dtype.element_ty)
            tl.store(y_base + start + offs, y, mask=m, eviction_policy='evict_first')


@triton.jit
def _bwd_tile_kernel(
    g_ptr, x_ptr, dx_ptr, w_ptr, b_ptr, mean_ptr, rstd_ptr, dw_ptr, db_ptr, NC, C, P, L,
    L_DIV: tl.constexpr, G_ONE_PLANE: tl.constexpr, BLOCK: tl.constexpr, ROWS: tl.constexpr,
):  # fmt: skip
    """Backward of ``ROWS`` whole planes per program, as ``dx = g s + a u + c_d (x - mean) + c_0``
    (``a = c_d = 0`` on channel planes), and parameter gradients per plane."""
    stride = (L // L_DIV) * L_DIV
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    row_ok = rows < NC
    mask = row_ok[:, None] & (cols < stride)[None, :]
    x_offs = rows.to(tl.int64)[:, None] * stride + cols[None, :]
    g_offs = _grad_plane(rows, C, G_ONE_PLANE).to(tl.int64)[:, None] * stride + cols[None, :]
    x = tl.load(x_ptr + x_offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + g_offs, mask=mask, other=0.0).to(tl.float32)
    mean = tl.load(mean_ptr + rows, mask=row_ok, other=0.0)
    rstd = tl.load(rstd_ptr + rows, mask=row_ok, other=0.0)
    j = (rows % C) % P
    w = tl.load(w_ptr + j, mask=row_ok, other=0.0)
    b = tl.load(b_ptr + j, mask=row_ok, other=0.0)
    spatial = j >= P // 2
    a, b0 = _gate_coefs(w, b, mean, rstd, spatial)
    d = tl.where(mask, x - mean[:, None], 0.0)
    s = 1.0 / (1.0 + tl.exp(-(a[:, None] * d + b0[:, None])))
    u = g * x * s * (1.0 - s)
    sum_u = tl.sum(u, axis=1)
    sum_ud = tl.sum(u * d, axis=1)
    c_d = tl.where(spatial, -a * rstd * rstd * sum_ud / L, 0.0)
    c_0 = tl.where(spatial, -a, w) * sum_u / L
    dx = g * s + a[:, None] * u + c_d[:, None] * d + c_0[:, None]
    tl.store(dx_ptr + x_offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)
    tl.store(dw_ptr + rows, tl.where(spatial, rstd * sum_ud, mean * sum_u), mask=row_ok)
    tl.store(db_ptr + rows, sum_u, mask=row_ok)


@triton.jit
def _bwd_loop_kernel(
    g_ptr, x_ptr, dx_ptr, w_ptr, b_ptr, mean_ptr, rstd_ptr, dw_ptr, db_ptr, NC, C, P, L,
    L_KEY, NC_KEY, L_DIV: tl.constexpr, G_ONE_PLANE: tl.constexpr,
    BLOCK: tl.constexpr, STAGES: tl.constexpr, PROGS: tl.constexpr,
):  # fmt: skip
    """Backward of one plane at a time per program, in two passes (persistent grid)."""
    stride = (L // L_DIV) * L_DIV
    offs = tl.arange(0, BLOCK)
    n_blocks = tl.cdiv(L, BLOCK)
    for p in range(tl.program_id(0).to(tl.int64), NC, tl.num_programs(0)):  # p: int64
        x_base = x_ptr + p * stride
        g_base = g_ptr + _grad_plane(p, C, G_ONE_PLANE) * stride
        mean = tl.load(mean_ptr + p)
        rstd = tl.load(rstd_ptr + p)
        j = (p % C) % P
        w = tl.load(w_ptr + j)
        spatial = j >= P // 2
        a, b0 = _gate_coefs(w, tl.load(b_ptr + j), mean, rstd, spatial)
        # pass 1: S1 = sum(u), t = sum(u * (x - mean))
        acc_u = tl.zeros([BLOCK], dtype=tl.float32)
        acc_ud = tl.zeros([BLOCK], dtype=tl.float32)
        for start in tl.range(0, L, BLOCK, num_stages=STAGES):
            m = start + offs < stride
            x = tl.load(x_base + start + offs, mask=m, other=0.0, eviction_policy='evict_last')
            g = tl.load(g_base + start + offs, mask=m, other=0.0, eviction_policy='evict_last')
            x = x.to(tl.float32)
            d = tl.where(m, x - mean, 0.0)
            s = 1.0 / (1.0 + tl.exp(-(a * d + b0)))
            u = g.to(tl.float32) * x * s * (1.0 - s)
            acc_u += u
            acc_ud += u * d
        sum_u = tl.sum(acc_u, axis=0)
        sum_ud = tl.sum(acc_ud, axis=0)
        tl.store(dw_ptr + p, tl.where(spatial, rstd * sum_ud, mean * sum_u))
        tl.store(db_ptr + p, sum_u)
        c_d = tl.where(spatial, -a * rstd * rstd * sum_ud / L, 0.0)
        c_0 = tl.where(spatial, -a, w) * sum_u / L
        # pass 2, last block first; a channel plane's dx = g * s + c_0 needs no x
        dx_base = dx_ptr + p * stride
        x_len = tl.where(spatial, stride, 0)
        for i in tl.range(0, n_blocks, num_stages=STAGES):
            start = (n_blocks - 1 - i) * BLOCK
            m = start + offs < stride
            x_m = start + offs < x_len
            x = tl.load(x_base + start + offs, mask=x_m, other=0.0, eviction_policy='evict_first')
            g = tl.load(g_base + start + offs, mask=m, other=0.0, eviction_policy='evict_first')
            x = x.to(tl.float32)
            g = g.to(tl.float32)
            d = x - mean
            s = 1.0 / (1.0 + tl.exp(-(a * d + b0)))
            u = g * x * s * (1.0 - s)
            dx = (g * s + a * u + c_d * d + c_0).to(dx_ptr.dtype.element_ty)
            tl.store(dx_base + start + offs, dx, mask=m, eviction_policy='evict_first')


@triton.jit
def _param_grad_kernel(dw_part_ptr, db_part_ptr, dw_ptr, db_ptr, R, P, BLOCK: tl.constexpr):
    """``dw[j] = sum_r dw_part[r * P + j]`` (and ``db``) in a fixed order, one program per ``j``."""
    j = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    acc_w = tl.zeros([BLOCK], dtype=tl.float32)
    acc_b = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, R, BLOCK):
        r = start + offs
        m = r < R
        acc_w += tl.load(dw_part_ptr + r.to(tl.int64) * P + j, mask=m, other=0.0)
        acc_b += tl.load(db_part_ptr + r.to(tl.int64) * P + j, mask=m, other=0.0)
    tl.store(dw_ptr + j, tl.sum(acc_w, axis=0))
    tl.store(db_ptr + j, tl.sum(acc_b, axis=0))


#: Whether the kernels above run in Triton's interpreter (TRITON_INTERPRET=1 at import).
INTERPRETED = not isinstance(_fwd_tile_kernel, triton.runtime.JITFunction)

#: The one config under the interpreter: small blocks, so small test planes reach the loop
#: kernels (L > tile_max), partial blocks and partial row groups.
_INTERPRET_CONFIG = dict(tile_max=64, rows=4, block=64, progs=3)


def _prune_tile(configs: List[triton.Config], named_args: dict, **kwargs) -> List[triton.Config]:
    """Tile configs with 2-4 K elements per program and 4-16 elements per thread."""
    block = kwargs['BLOCK']
    kept = [
        c
        for c in configs
        if 2048 <= c.kwargs['ROWS'] * block <= 4096
        and 4 <= c.kwargs['ROWS'] * block // (32 * c.num_warps) <= 16
    ]
    return kept or [min(configs, key=lambda c: c.kwargs['ROWS'] * c.num_warps)]


def _prune_loop(configs: List[triton.Config], named_args: dict, **kwargs) -> List[triton.Config]:
    """Loop configs whose block is smaller than the plane."""
    kept = [c for c in configs if c.kwargs['BLOCK'] < named_args['L']]
    return kept or [min(configs, key=lambda c: c.kwargs['BLOCK'])]


_TILE_CONFIGS = [
    triton.Config({'ROWS': rows}, num_warps=warps)
    for rows in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    for warps in (4, 8, 16)
]


class _Kernels(NamedTuple):
    """One direction's tile and loop kernels, plain and autotuned; ``name`` prefixes its keys."""

    name: str
    tile: Any
    loop: Any
    tile_tuned: Any
    loop_tuned: Any


def _kernels(name: str, tile, loop, *loop_settings: Tuple[int, int, int, int]) -> _Kernels:
    """Wrap ``tile`` (keyed by ``BLOCK``, ``NC``) and ``loop`` (by its buckets) in autotuners,
    the loop's configs given as ``(BLOCK, num_warps, PROGS, STAGES)``."""
    loop_configs = [
        triton.Config({'BLOCK': block, 'PROGS': progs, 'STAGES': stages}, num_warps=warps)
        for block, warps, progs, stages in loop_settings
    ]
    tile_prune = {'early_config_prune': _prune_tile}
    loop_prune = {'early_config_prune': _prune_loop}
    return _Kernels(
        name,
        tile,
        loop,
        triton.autotune(_TILE_CONFIGS, key=['BLOCK', 'NC'], prune_configs_by=tile_prune)(tile),
        triton.autotune(loop_configs, key=['L_KEY', 'NC_KEY'], prune_configs_by=loop_prune)(loop),
    )


_FWD = _kernels(
    'fwd', _fwd_tile_kernel, _fwd_loop_kernel,
    (1024, 4, 8, 3), (2048, 8, 4, 3), (4096, 16, 2, 4),
    (4096, 16, 1, 4), (8192, 32, 1, 3), (1024, 4, 8, 1),
)  # fmt: skip
_BWD = _kernels(
    'bwd', _bwd_tile_kernel, _bwd_loop_kernel,
    (1024, 4, 4, 3), (2048, 8, 2, 3), (4096, 16, 1, 3),
    (4096, 32, 1, 4), (8192, 32, 1, 3), (1024, 4, 8, 1),
)  # fmt: skip

#: Best config per (kernel, shape bucket, dtype, device) once tuned: later calls launch the plain
#: kernel with it, skipping the autotuner's per-call overhead.
_BEST: Dict[tuple, triton.Config] = {}


@functools.lru_cache(maxsize=None)
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _check_tensor(name: str, t: Tensor, device, shape=None, dtype=None, must: str = '') -> None:
    """Require a contiguous tensor on ``device``; given ``shape``, of it and ``dtype``, else
    ``ValueError: {name} must {must}`` (``{shape}`` and ``{dtype}`` filled in)."""
    if not isinstance(t, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, but got {type(t).__name__}')
    if t.device != device:
        raise ValueError(f'{name} must be on the device of x ({device}), but is on {t.device}')
    if not t.is_contiguous():
        raise ValueError(f'{name} must be contiguous; pass {name}.contiguous()')
    if shape is not None and (t.shape != shape or t.dtype != dtype):
        must = must.format(shape=tuple(shape), dtype=dtype)
        raise ValueError(f'{name} must {must}, but got {tuple(t.shape)}, {t.dtype}')


def _check_inputs(x: Tensor, weight: Tensor, bias: Tensor) -> int:
    """Validate ``x``, ``weight`` and ``bias``; return the number of parameters ``P``."""
    if not isinstance(x, Tensor):
        raise TypeError(f'x must be a torch.Tensor, but got {type(x).__name__}')
    if x.dtype not in DTYPES:
        raise TypeError(f'x must be float32, float16 or bfloat16, but got {x.dtype}')
    if x.dim() != 4 or x.numel() == 0:
        raise ValueError(
            f'x must be a non-empty (N, C, H, W) tensor, but got shape {tuple(x.shape)}'
        )
    if not x.is_cuda and not INTERPRETED:
        raise ValueError(
            f'x must be a CUDA tensor, but is on {x.device}; the Triton kernels run '
            'on CPU tensors only with TRITON_INTERPRET=1 set before importing them'
        )
    _check_tensor('x', x, x.device)
    for name, t in (('weight', weight), ('bias', bias)):
        _check_tensor(name, t, x.device)
        if t.dtype != torch.float32:
            raise TypeError(f'{name} must be float32 for every dtype of x, but got {t.dtype}')
        if t.dim() != 1:
            raise ValueError(f'{name} must be 1-D, but got shape {tuple(t.shape)}')
    channels, params = x.shape[1], weight.numel()
    if bias.numel() != params or params == 0 or params % 2 or channels % params:
        raise ValueError(
            f'weight and bias must have the same even number P of elements with '
            f'C % P == 0, but got P={params}, bias {bias.numel()}, C={channels}'
        )
    return params


def _tile_block(length: int) -> int:
    return max(16, triton.next_power_of_2(length))


def _launch(kernel, tuned, key: tuple, grid, args: tuple, **meta) -> None:
    """Launch ``tuned`` the first time ``key`` is seen (autotuning), else ``kernel`` with the
    config it chose."""
    config = _BEST.get(key)
    if config is None:
        tuned[grid](*args, **meta)  # benchmarks the configs, then runs the best one
        _BEST[key] = tuned.best_config
    else:
        kernel[grid](*args, **meta, **config.all_kwargs())


def _launch_planes(
    kernels: _Kernels, x: Tensor, tensors: tuple, params: int, *scalars, **flags: bool
) -> None:
    """Launch ``kernels`` on the planes of ``x`` with ``tensors``, the sizes, then ``scalars``
    (and ``flags``, constexpr): the tile kernel where a plane fits in registers, else the loop
    kernel."""
    planes, length = x.shape[0] * x.shape[1], x.shape[2] * x.shape[3]
    args = (*tensors, planes, x.shape[1], params, length, *scalars)
    # the largest power of two <= 16 dividing the plane size
    meta = dict(L_DIV=min(16, length & -length), **flags)
    variant = tuple(flags.items())
    if INTERPRETED:
        cfg = _INTERPRET_CONFIG
        if length <= cfg['tile_max']:
            grid = (triton.cdiv(planes, cfg['rows']),)
            kernels.tile[grid](*args, **meta, BLOCK=_tile_block(length), ROWS=cfg['rows'])
        else:
            grid = (min(planes, cfg['progs']),)
            kernels.loop[grid](*args, 0, 0, **meta, BLOCK=cfg['block'], STAGES=1, PROGS=1)
    elif length <= TILE_MAX:
        block = _tile_block(length)
        key = (f'{kernels.name}_tile', block, planes, x.dtype, x.device, *variant)
        grid = lambda m: (triton.cdiv(planes, m['ROWS']),)  # noqa: E731
        _launch(kernels.tile, kernels.tile_tuned, key, grid, args, **meta, BLOCK=block)
    else:
        device = x.device.index if x.device.index is not None else torch.cuda.current_device()
        sms = _sm_count(device)
        buckets = (triton.next_power_of_2(length), triton.next_power_of_2(planes))
        key = (f'{kernels.name}_loop', *buckets, x.dtype, x.device, *variant)
        grid = lambda m: (min(planes, m['PROGS'] * sms),)  # noqa: E731
        _launch(kernels.loop, kernels.loop_tuned, key, grid, args + buckets, **meta)


def sa_forward_triton(
    x: Tensor, weight: Tensor, bias: Tensor, eps: float
) -> Tuple[Tensor, Tensor, Tensor]:
    """Shuffle Attention forward with the Triton kernels.

    Args:
        x (Tensor): Contiguous (N, C, H, W) float32, float16 or bfloat16 input, on CUDA (on
            CPU under ``TRITON_INTERPRET=1``).
        weight (Tensor): Contiguous float32 gate weights, ``P`` elements, ``P`` even,
            ``C % P == 0``.
        bias (Tensor): Contiguous float32 gate biases, ``P`` elements.
        eps (float): Added to the variance of spatial-attention planes.

    Returns:
        tuple[Tensor, Tensor, Tensor]: The shuffled output (dtype of ``x``), and the float32
        (N, C) plane mean and inverse standard deviation ``1 / sqrt(var + eps)``.
    """
    params = _check_inputs(x, weight, bias)
    out = torch.empty_like(x)
    mean = torch.empty(x.shape[:2], dtype=torch.float32, device=x.device)
    rstd = torch.empty_like(mean)
    _launch_planes(_FWD, x, (x, out, weight, bias, mean, rstd), params, float(eps))
    return out, mean, rstd


def sa_backward_triton(
    grad_out: Tensor, x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor, rstd: Tensor
) -> Tuple[Tensor, Tensor, Tensor]:
    """Shuffle Attention backward with the Triton kernels, deterministic (no atomics).

    Args:
        grad_out (Tensor): Gradient of the forward's output, like ``x``: contiguous, or one
            plane expanded over N and C (``y.sum().backward()``), which is read as that plane.
        x (Tensor): The forward's input.
        weight (Tensor): The forward's float32 gate weights, ``P`` elements.
        bias (Tensor): The forward's float32 gate biases, ``P`` elements.
        mean (Tensor): The float32 (N, C) mean returned by :func:`sa_forward_triton`.
        rstd (Tensor): The float32 (N, C) inverse std returned by :func:`sa_forward_triton`.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``grad_x`` (dtype of ``x``), ``grad_weight`` and
        ``grad_bias`` (float32, ``P`` elements).
    """
    params = _check_inputs(x, weight, bias)
    like_x = 'have the shape and dtype of x {shape}, {dtype}'
    one_plane = (
        isinstance(grad_out, Tensor)
        and (grad_out.shape, grad_out.dtype) == (x.shape, x.dtype)
        and grad_out.stride()[:2] == (0, 0)
    )
    if one_plane:
        grad_out = grad_out[0, 0].contiguous()
        _check_tensor('grad_out', grad_out, x.device)
    else:
        _check_tensor('grad_out', grad_out, x.device, x.shape, x.dtype, like_x)
    stats = 'be the float32 (N, C) = {shape} tensor returned by sa_forward_triton'
    for name, t in (('mean', mean), ('rstd', rstd)):
        _check_tensor(name, t, x.device, x.shape[:2], torch.float32, stats)
    grad_x = torch.empty_like(x)
    planes = x.shape[0] * x.shape[1]
    dw_part = torch.empty(planes, dtype=torch.float32, device=x.device)
    db_part = torch.empty_like(dw_part)
    tensors = (grad_out, x, grad_x, weight, bias, mean, rstd, dw_part, db_part)
    _launch_planes(_BWD, x, tensors, params, G_ONE_PLANE=one_plane)
    grad_weight = torch.empty(params, dtype=torch.float32, device=x.device)
    grad_bias = torch.empty_like(grad_weight)
    rows = planes // params
    block = 64 if INTERPRETED else min(1024, max(32, triton.next_power_of_2(rows)))
    warps = 1 if block <= 128 else 4
    _param_grad_kernel[(params,)](
        dw_part, db_part, grad_weight, grad_bias, rows, params, BLOCK=block, num_warps=warps
    )
    return grad_x, grad_weight, grad_bias
