"""Benchmark the Shuffle Attention operator against the official form, and SA-R50 against R50.

Prints, from one run on one device:

1. one SA layer, forward and forward + backward: the official form eager
   (``ShuffleAttention(implementation='reference')``), ``torch.compile`` of
   the official form (what a user would try first), and ours (the operator:
   the compiled CPU kernel on the CPU, Triton on CUDA; also with the expanded
   gradient of ``y.sum()``, and on the CPU its pure-PyTorch form);
2. the memory traffic ours achieves: forward reads x and writes y (2 tensors),
   backward reads x and dy and writes dx (3 tensors); against a plain copy of
   the input (the practical limit) and, on a GPU, the device's peak DRAM
   bandwidth;
3. the bytes one SA layer saves for backward;
4. the cost of one call on a 1x256x1x1 input, where there is no data to move
   (what a GPU's host pays per layer): the official form and ours;
5. backbone train step (forward + backward of the sum of all stage outputs,
   with AMP on CUDA) and inference of mmdet's ``ResNet`` vs ``SAResNet``
   (depth 50: official form / ours) and SA's overhead in %.

Each number is the median over ``--repeats`` runs after ``--warmup`` runs; the
variants of one table are run interleaved, so drifts of the machine's load hit
them alike. CUDA times come from CUDA events. The header names the CPU's vector
extensions (AVX2 / AVX-512) or the GPU, since figures differ between them.

Example:
    python tools/analysis_tools/benchmark_sa.py --threads 2
    python tools/analysis_tools/benchmark_sa.py --device cuda
"""

import argparse
import math
from typing import Callable, List, Optional, Sequence

import torch
from mmdet.models.backbones import ResNet

from sa_mmdet.analysis.benchmark_args import (
    add_benchmark_arguments,
    resolve_benchmark_defaults,
    sa_kernel_name,
    start_benchmark,
)
from sa_mmdet.analysis.saved_tensors import saved_tensor_bytes
from sa_mmdet.analysis.table import format_table
from sa_mmdet.analysis.timing import Timer, time_interleaved
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
    add_benchmark_arguments(parser)
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
    return resolve_benchmark_defaults(parser.parse_args(argv))


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


def _train_fn(layer: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> Callable:

    def run() -> None:
        torch.autograd.grad(layer(x), [x, *layer.parameters()], grad)

    return run


def _forward_fn(layer: torch.nn.Module, x: torch.Tensor) -> Callable:

    def run() -> None:
        with torch.no_grad():
            layer(x)

    return run


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
            fns[f'{name} fwd'] = _forward_fn(layer, x)
            fns[f'{name} fwd+bwd'] = _train_fn(layer, x, grad)
        fns['ours bwd'] = _backward_fn(ours, x, grad)
        # the gradient of y.sum(): one value expanded, which a kernel must take as it is
        expanded = torch.ones((), device=device, dtype=dtype).expand(shape)
        fns['ours fwd+bwd expanded'] = _train_fn(ours, x, expanded)
        if with_pytorch:
            fns['pytorch fwd'] = _without_kernels(_forward_fn(ours, x))
            fns['pytorch fwd+bwd'] = _without_kernels(_train_fn(ours, x, grad))
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
        f'ShuffleAttention layer ({args.dtype}), ms (median); ours = {sa_kernel_name(device)}'
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
        fns[f'{name} fwd'] = _forward_fn(layer, x)
        fns[f'{name} fwd+bwd'] = _train_fn(layer, x, grad)
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
    x = torch.randn(args.backbone_input, device=device)
    amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16

    def train_step(model):
        model.train()
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
            loss = sum(out.float().mean() for out in model(x))
        loss.backward()

    t_train = time_interleaved(
        {name: lambda m=m: train_step(m) for name, m in models.items()},
        timer,
        args.backbone_repeats,
        args.warmup,
    )
    for model in models.values():
        model.eval()

    def infer(model):
        with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
            model(x)

    t_infer = time_interleaved(
        {name: lambda m=m: infer(m) for name, m in models.items()},
        timer,
        args.backbone_repeats,
        args.warmup,
    )
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
    mode = 'frozen_stages=1, norm_eval=True' if args.norm_eval else 'all layers train'
    amp = f', AMP ({str(amp_dtype).split(".")[-1]})' if args.amp else ', float32'
    print_table(
        f'Backbones, input {"x".join(map(str, args.backbone_input))}{amp}, ms (median); '
        f'train step = forward + backward ({mode})',
        ['backbone', 'train step', 'overhead', 'inference', 'overhead'],
        rows,
    )


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    timer = start_benchmark(args, ours=sa_kernel_name(device))
    benchmark_layers(args, device, timer)
    benchmark_call_cost(args, device, timer)
    if not args.skip_backbone:
        benchmark_backbones(args, device, timer)


if __name__ == '__main__':
    main()
