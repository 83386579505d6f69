"""Benchmark the Shuffle Attention operator against the official form, and SA-R50 against R50.

Prints, from one run on one device:

1. one SA layer, forward and forward + backward: the official form eager
   (``ShuffleAttention(implementation='reference')``) and under ``torch.compile``, and ours (the
   operator; also with the expanded gradient of ``y.sum()``, and on the CPU its pure-PyTorch form);
2. the memory traffic ours achieves (forward reads x, writes y; backward reads x, dy, writes dx)
   against a copy of the input and, on a GPU, the device's peak DRAM bandwidth;
3. the bytes one SA layer saves for backward;
4. the cost of one call on a 1x256x1x1 input, where there is no data to move;
5. backbone train step and inference of mmdet's ``ResNet`` vs ``SAResNet`` (official form / ours).

Times are medians over ``--repeats`` runs after ``--warmup`` runs, the variants of a table run
interleaved; CUDA times come from CUDA events. The header names the CPU's vector extensions or
the GPU, since figures differ between them.

Example:
    python tools/analysis_tools/benchmark_sa.py --threads 2
    python tools/analysis_tools/benchmark_sa.py --device cuda
"""

import argparse
import math
from typing import Callable, List, Optional, Sequence

import torch
from mmdet.models.backbones import ResNet

from analysis_lib import benchmark_args as bench
from analysis_lib.saved_tensors import saved_tensor_bytes
from analysis_lib.table import format_table
from analysis_lib.timing import Timer, time_interleaved
from sa_mmdet.models import SAResNet, ShuffleAttention
from sa_mmdet.ops import sa_backend, sa_kernel_enabled

#: Peak DRAM bandwidth (GB/s) by the vendors' datasheets, by a part of the device name.
PEAK_BANDWIDTH = {
    'H200': 4800,
    'H100 NVL': 3900,
    'H100 80GB HBM3': 3350,
    'H100 PCIe': 2000,
    'A100-SXM4-80GB': 2039,
    'A100-SXM4-40GB': 1555,
    'A100-PCIE-40GB': 1555,
    'L40S': 864,
    'RTX 4090': 1008,
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_benchmark_arguments(parser)
    parser.add_argument(
        '--no-compile',
        action='store_true',
        help='leave out torch.compile of the official form (compiling takes '
        'tens of seconds per shape)',
    )
    parser.add_argument(
        '--call-repeats',
        type=int,
        default=500,
        help='timed calls per variant on the 1x256x1x1 input (default: 500)',
    )
    parser.add_argument(
        '--peak-bandwidth',
        type=float,
        default=None,
        metavar='GB/s',
        help='peak DRAM bandwidth of the GPU (default: from its name)',
    )
    return bench.resolve_benchmark_defaults(parser.parse_args(argv))


def print_table(title: str, header: Sequence[str], rows: List[Sequence[str]]) -> None:
    print('\n' + format_table(header, rows, title=title))


def peak_bandwidth(device: torch.device, given: Optional[float]) -> Optional[float]:
    """Peak DRAM bandwidth in bytes/s: ``given`` GB/s, else the datasheet's for the GPU."""
    if given:
        return given * 1e9
    if device.type != 'cuda':
        return None
    name = torch.cuda.get_device_name(device)
    return next((gbps * 1e9 for part, gbps in PEAK_BANDWIDTH.items() if part in name), None)


def _backward_fn(layer: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> Callable:
    out = layer(x)  # one graph, its backward run again and again

    def run() -> None:
        torch.autograd.grad(out, [x, *layer.parameters()], grad, retain_graph=True)

    return run


def _without_kernels(fn: Callable) -> Callable:

    def run() -> None:
        with sa_kernel_enabled(False):
            fn()

    return run


def _under_autocast(fn: Callable, device: torch.device, dtype: torch.dtype) -> Callable:
    """``fn`` as AMP runs it: the official form's GroupNorm then computes in float32."""

    def run() -> None:
        with torch.autocast(device.type, dtype=dtype):
            fn()

    return run


def benchmark_layers(args: argparse.Namespace, device: torch.device, timer: Timer) -> None:
    dtype = getattr(torch, args.dtype)
    peak = peak_bandwidth(device, args.peak_bandwidth)
    with_pytorch = sa_backend(device) != 'pytorch'
    speed_rows, traffic_rows, memory_rows, speedups = [], [], [], []
    for shape in args.shapes:
        x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
        grad = torch.randn(shape, device=device, dtype=dtype)
        official = ShuffleAttention(shape[1], implementation='reference').to(device)
        ours = ShuffleAttention(shape[1]).to(device)
        variants = {'official': official, 'ours': ours}
        if not args.no_compile:
            variants['official compiled'] = torch.compile(official)
        fns = {}
        for name, layer in variants.items():
            fns[f'{name} fwd'] = bench.forward_fn(layer, x)
            fns[f'{name} fwd+bwd'] = bench.train_fn(layer, x, grad)
        fns['ours bwd'] = _backward_fn(ours, x, grad)
        # the gradient of y.sum(): one value expanded, which a kernel must take as it is
        expanded = torch.ones((), device=device, dtype=dtype).expand(shape)
        fns['ours fwd+bwd expanded'] = bench.train_fn(ours, x, expanded)
        if with_pytorch:
            fns['pytorch fwd'] = _without_kernels(bench.forward_fn(ours, x))
            fns['pytorch fwd+bwd'] = _without_kernels(bench.train_fn(ours, x, grad))
        if dtype != torch.float32:  # half-precision inputs come from AMP
            fns = {name: _under_autocast(fn, device, dtype) for name, fn in fns.items()}
        fns['copy'] = lambda: x.detach().clone()
        t = time_interleaved(fns, timer, args.repeats, args.warmup)

        name = 'x'.join(map(str, shape))
        row = [name]
        for variant in ('official', 'official compiled', 'ours', 'pytorch'):
            if f'{variant} fwd' in t:
                row += [f'{t[f"{variant} fwd"] * 1e3:.2f}', f'{t[f"{variant} fwd+bwd"] * 1e3:.2f}']
        row.append(f'{t["ours fwd+bwd expanded"] * 1e3:.2f}')
        best_other = min(t[k] for k in ('official fwd+bwd', 'official compiled fwd+bwd') if k in t)
        speedups.append(t['official fwd+bwd'] / t['ours fwd+bwd'])
        row += [
            f'{t["official fwd+bwd"] / t["ours fwd+bwd"]:.2f}x',
            f'{best_other / t["ours fwd+bwd"]:.2f}x',
        ]
        speed_rows.append(row)

        nbytes = x.numel() * x.element_size()
        copy_bw = 2 * nbytes / t['copy']
        achieved = {
            'fwd': 2 * nbytes / t['ours fwd'],
            'bwd': 3 * nbytes / t['ours bwd'],
            'fwd+bwd': 5 * nbytes / t['ours fwd+bwd'],
        }
        traffic = [name, f'{copy_bw / 1e9:.0f}']
        for key, value in achieved.items():
            traffic += [f'{value / 1e9:.0f}', f'{100 * value / copy_bw:.0f}%']
            if peak:
                traffic.append(f'{100 * value / peak:.0f}%')
        traffic_rows.append(traffic)

        saved = {
            impl: saved_tensor_bytes(layer, x)[1]
            for impl, layer in variants.items()
            if impl != 'official compiled'
        }
        memory_rows.append(
            [
                name,
                f'{nbytes / 2**20:.1f}',
                f'{saved["official"] / 2**20:.1f}',
                f'{saved["ours"] / 2**20:.1f}',
                f'{saved["ours"] / nbytes:.3f}x',
            ]
        )

    header = ['input', 'official fwd', 'official fwd+bwd']
    if not args.no_compile:
        header += ['compiled fwd', 'compiled fwd+bwd']
    header += ['ours fwd', 'ours fwd+bwd']
    if with_pytorch:
        header += ['pytorch fwd', 'pytorch fwd+bwd']
    header += ['ours fwd+bwd, dy expanded', 'ours vs official', 'ours vs best official']
    geomean = math.exp(sum(map(math.log, speedups)) / len(speedups))
    print_table(
        f'ShuffleAttention layer ({args.dtype}), ms (median); ours = {bench.sa_kernel_name(device)}'
        + (', pytorch = its pure-PyTorch form' if with_pytorch else '')
        + f'; geometric-mean fwd+bwd speedup over the official form {geomean:.2f}x',
        header,
        speed_rows,
    )
    header = ['input', 'copy GB/s']
    for key in ('fwd', 'bwd', 'fwd+bwd'):
        header += [f'{key} GB/s', 'of copy'] + (['of peak'] if peak else [])
    print_table(
        'Memory traffic of ours: fwd reads x, writes y; bwd reads x, dy, writes dx'
        + (f'; peak {peak / 1e9:.0f} GB/s (datasheet)' if peak else ''),
        header,
        traffic_rows,
    )
    print_table(
        'Saved for backward by one layer, MiB',
        ['input', 'input size', 'official', 'ours', 'ours / input'],
        memory_rows,
    )


def benchmark_call_cost(args: argparse.Namespace, device: torch.device, timer: Timer) -> None:
    x = torch.randn(1, 256, 1, 1, device=device, requires_grad=True)
    grad = torch.randn_like(x)
    official = ShuffleAttention(256, implementation='reference').to(device)
    ours = ShuffleAttention(256).to(device)
    variants = {'official': official, 'ours': ours}
    fns = {}
    for name, layer in variants.items():
        fns[f'{name} fwd'] = bench.forward_fn(layer, x)
        fns[f'{name} fwd+bwd'] = bench.train_fn(layer, x, grad)
    t = time_interleaved(fns, timer, args.call_repeats, args.warmup)
    rows = [
        [name, f'{t[f"{name} fwd"] * 1e6:.0f}', f'{t[f"{name} fwd+bwd"] * 1e6:.0f}']
        for name in variants
    ]
    print_table(
        'Cost of one call, input 1x256x1x1 (no data to move), us (median of '
        f'{args.call_repeats}); fwd without autograd',
        ['layer', 'fwd', 'fwd+bwd'],
        rows,
    )


def benchmark_backbones(args: argparse.Namespace, device: torch.device, timer: Timer) -> None:
    settings = dict(frozen_stages=1, norm_eval=True) if args.norm_eval else {}
    models = {
        'ResNet-50': ResNet(depth=50, **settings),
        'SA-R50 official': SAResNet(depth=50, **settings),
        'SA-R50 ours': SAResNet(depth=50, **settings),
    }
    for module in models['SA-R50 official'].modules():
        if isinstance(module, ShuffleAttention):
            module.implementation = 'reference'
    for model in models.values():
        model.to(device)
    t_train, t_infer = bench.time_backbones(args, models, timer)
    base_train, base_infer = t_train['ResNet-50'], t_infer['ResNet-50']
    rows = [
        [
            name,
            f'{t_train[name] * 1e3:.1f}',
            f'{100 * (t_train[name] / base_train - 1):+.1f}%',
            f'{t_infer[name] * 1e3:.1f}',
            f'{100 * (t_infer[name] / base_infer - 1):+.1f}%',
        ]
        for name in models
    ]
    header = ['backbone', 'train step', 'overhead', 'inference', 'overhead']
    print_table(bench.backbone_title(args), header, rows)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    timer = bench.start_benchmark(args, ours=bench.sa_kernel_name(device))
    benchmark_layers(args, device, timer)
    benchmark_call_cost(args, device, timer)
    if not args.skip_backbone:
        benchmark_backbones(args, device, timer)


if __name__ == '__main__':
    main()
