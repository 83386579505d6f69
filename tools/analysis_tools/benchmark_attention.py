"""Benchmark SA and the SA-Net paper's baselines (SE, ECA, SGE, CBAM) side by side.

The paper compares FLOPs; users feel time and memory. Prints, from one run on one device:

1. each attention layer at the SA benchmark shapes (SA with our operator and in the official form
   ``ShuffleAttention(implementation='reference')``, SE, ECA, SGE and CBAM with the papers'
   defaults): forward and forward + backward time, and the bytes autograd saves for backward;
2. each attention-ResNet-50 backbone (mmdet's ``ResNet``, ``SAResNet``, ``AttentionResNet``):
   train step and inference time, and the activations saved for backward, with their overhead
   over ResNet-50.

Times are medians over ``--repeats`` runs after ``--warmup`` runs, the variants of a table run
interleaved; CUDA times come from CUDA events.

Example:
    python tools/analysis_tools/benchmark_attention.py --threads 2
    python tools/analysis_tools/benchmark_attention.py --device cuda
"""

import argparse
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmdet.models.backbones import ResNet

from analysis_lib import benchmark_args as bench
from analysis_lib.saved_tensors import saved_storages, saved_tensor_bytes
from analysis_lib.table import format_table
from analysis_lib.timing import Timer, time_interleaved
from sa_mmdet.models import (
    CBAM,
    AttentionResNet,
    EfficientChannelAttention,
    SAResNet,
    ShuffleAttention,
    SpatialGroupEnhance,
    SqueezeExcitation,
)

#: The attention layers, by the name the tables print, built from the channel count.
LAYERS: Dict[str, Callable[[int], nn.Module]] = {
    'SA (ours)': ShuffleAttention,
    'SA (official form)': lambda c: ShuffleAttention(c, implementation='reference'),
    'SE': SqueezeExcitation,
    'ECA': EfficientChannelAttention,
    'SGE': SpatialGroupEnhance,
    'CBAM': CBAM,
}

#: The backbones, by the name the tables print, built from mmdet ResNet keyword arguments.
BACKBONES: Dict[str, Callable[..., nn.Module]] = {
    'ResNet-50': lambda **kw: ResNet(depth=50, **kw),
    'SA-R50': lambda **kw: SAResNet(depth=50, **kw),
    'SE-R50': lambda **kw: AttentionResNet(50, dict(type='SqueezeExcitation'), **kw),
    'ECA-R50': lambda **kw: AttentionResNet(50, dict(type='EfficientChannelAttention'), **kw),
    'SGE-R50': lambda **kw: AttentionResNet(50, dict(type='SpatialGroupEnhance'), **kw),
    'CBAM-R50': lambda **kw: AttentionResNet(50, dict(type='CBAM'), **kw),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_benchmark_arguments(parser)
    parser.add_argument('--skip-layers', action='store_true', help='only benchmark backbones')
    return bench.resolve_benchmark_defaults(parser.parse_args(argv))


def saved_activation_bytes(model: nn.Module, fn: Callable[[], object]) -> int:
    """Bytes autograd saves for backward while ``fn`` runs, ``model``'s parameters left out.

    What training adds per input; under AMP the parameters' casts are counted.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with saved_storages() as storages:
        fn()
    return sum(nbytes for ptr, nbytes in storages.items() if ptr not in params)


def _mib(nbytes: float) -> str:
    return f'{nbytes / 2**20:.1f}'


def _overhead(value: float, base: float) -> str:
    return f'{100 * (value / base - 1):+.1f}%'


def benchmark_layers(args: argparse.Namespace, device: torch.device, timer: Timer) -> None:
    """Print the attention layer table: time and saved bytes per layer and shape."""
    dtype = getattr(torch, args.dtype)
    rows: List[List[str]] = []
    for shape in args.shapes:
        x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
        grad = torch.randn(shape, device=device, dtype=dtype)
        layers = {name: build(shape[1]).to(device, dtype) for name, build in LAYERS.items()}
        fns = {}
        for name, layer in layers.items():
            fns[f'{name} fwd'] = bench.forward_fn(layer, x)
            fns[f'{name} fwd+bwd'] = bench.train_fn(layer, x, grad)
        t = time_interleaved(fns, timer, args.repeats, args.warmup)
        nbytes = x.numel() * x.element_size()
        for name, layer in layers.items():
            saved = saved_tensor_bytes(layer, x)[1]
            train = t[f'{name} fwd+bwd']
            rows.append(
                [
                    'x'.join(map(str, shape)),
                    name,
                    f'{t[f"{name} fwd"] * 1e3:.2f}',
                    f'{train * 1e3:.2f}',
                    f'{train / t["SA (ours) fwd+bwd"]:.2f}x',
                    _mib(saved),
                    f'{saved / nbytes:.2f}x',
                ]
            )
        del x, grad, layers, fns
    header = ['input', 'layer', 'fwd ms', 'fwd+bwd ms', 'fwd+bwd / SA (ours)']
    header += ['saved for bwd MiB', 'saved / input']
    title = (
        f'Attention layers ({args.dtype}), median ms; SA (ours) = {bench.sa_kernel_name(device)}; '
        'saved = bytes autograd keeps for backward (the input included)'
    )
    print('\n' + format_table(header, rows, title=title))


def benchmark_backbones(args: argparse.Namespace, device: torch.device, timer: Timer) -> None:
    """Print the backbone table: train step, inference and saved bytes, overhead over R50."""
    settings = dict(frozen_stages=1, norm_eval=True) if args.norm_eval else {}
    models = {name: build(**settings).to(device) for name, build in BACKBONES.items()}
    t_train, t_infer = bench.time_backbones(args, models, timer)
    x = torch.randn(args.backbone_input, device=device)
    saved = {}
    for name, model in models.items():
        model.train()
        saved[name] = saved_activation_bytes(
            model, partial(bench.backbone_loss, model, x, args.amp)
        )
        model.zero_grad(set_to_none=True)
    base = 'ResNet-50'
    rows = [
        [
            name,
            f'{t_train[name] * 1e3:.1f}',
            _overhead(t_train[name], t_train[base]),
            f'{t_infer[name] * 1e3:.1f}',
            _overhead(t_infer[name], t_infer[base]),
            _mib(saved[name]),
            _overhead(saved[name], saved[base]),
        ]
        for name in models
    ]
    header = ['backbone', 'train step ms', 'overhead', 'inference ms', 'overhead']
    header += ['activations saved MiB', 'overhead']
    title = (
        f'{bench.backbone_title(args)}; activations saved = bytes autograd keeps for backward, '
        f'parameters left out; SA-R50 runs {bench.sa_kernel_name(device)}'
    )
    print('\n' + format_table(header, rows, title=title))


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    timer = bench.start_benchmark(args)
    if not args.skip_layers:
        benchmark_layers(args, device, timer)
    if not args.skip_backbone:
        benchmark_backbones(args, device, timer)


if __name__ == '__main__':
    main()
