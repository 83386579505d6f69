"""Benchmark SA and the SA-Net paper's baselines (SE, ECA, SGE, CBAM) side by side.

The paper compares FLOPs; users feel time and memory. Prints, from one run on
one device:

1. each attention layer at the SA benchmark shapes: Shuffle Attention with
   our operator (the compiled CPU kernel on the CPU, Triton on CUDA) and in
   the official form (``ShuffleAttention(implementation='reference')``), SE,
   ECA, SGE and CBAM with the papers' defaults: forward and forward + backward
   time, and the bytes autograd saves for backward;
2. each attention-ResNet-50 backbone (mmdet's ``ResNet``, ``SAResNet``,
   ``AttentionResNet`` with SE, ECA, SGE and CBAM): train step (forward +
   backward of the sum of all stage outputs, with AMP on CUDA) and inference
   time, their overhead over ResNet-50, and the bytes of activations saved
   for backward by the training forward.

Each time is the median over ``--repeats`` runs after ``--warmup`` runs; the
variants of one table row group are run interleaved, so drifts of the
machine's load hit them alike. CUDA times come from CUDA events.

Example:
    python tools/analysis_tools/benchmark_attention.py --threads 2
    python tools/analysis_tools/benchmark_attention.py --device cuda
"""

import argparse
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
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
    add_benchmark_arguments(parser)
    parser.add_argument('--skip-layers', action='store_true', help='only benchmark backbones')
    return resolve_benchmark_defaults(parser.parse_args(argv))


def _forward(layer: nn.Module, x: torch.Tensor) -> Callable[[], None]:

    def run() -> None:
        with torch.no_grad():
            layer(x)

    return run


def _forward_backward(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:

    def run() -> None:
        torch.autograd.grad(layer(x), [x, *layer.parameters()], grad)

    return run


def saved_activation_bytes(model: nn.Module, fn: Callable[[], object]) -> int:
    """Bytes autograd saves for backward while ``fn`` runs, ``model``'s parameters left out.

    As :func:`~sa_mmdet.analysis.saved_tensors.saved_tensor_bytes` (storages
    counted once), but without the storages of the parameters, which are kept
    alive anyway: what training adds per input. Under AMP the parameters' casts
    are counted.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: Dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return sum(storages.values())


def _mib(nbytes: float) -> str:
    return f'{nbytes / 2**20:.1f}'


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
            fns[name, 'fwd'] = _forward(layer, x)
            fns[name, 'fwd+bwd'] = _forward_backward(layer, x, grad)
        t = time_interleaved(fns, timer, args.repeats, args.warmup)
        nbytes = x.numel() * x.element_size()
        reference = t['SA (ours)', 'fwd+bwd']
        for name, layer in layers.items():
            saved = saved_tensor_bytes(layer, x)[1]
            rows.append(
                [
                    'x'.join(map(str, shape)),
                    name,
                    f'{t[name, "fwd"] * 1e3:.2f}',
                    f'{t[name, "fwd+bwd"] * 1e3:.2f}',
                    f'{t[name, "fwd+bwd"] / reference:.2f}x',
                    _mib(saved),
                    f'{saved / nbytes:.2f}x',
                ]
            )
        del x, grad, layers, fns
    print(
        '\n'
        + format_table(
            [
                'input',
                'layer',
                'fwd ms',
                'fwd+bwd ms',
                'fwd+bwd / SA (ours)',
                'saved for bwd MiB',
                'saved / input',
            ],
            rows,
            title=f'Attention layers ({args.dtype}), median ms; '
            f'SA (ours) = {sa_kernel_name(device)}; '
            'saved = bytes autograd keeps for backward (the input included)',
        )
    )


def benchmark_backbones(args: argparse.Namespace, device: torch.device, timer: Timer) -> None:
    """Print the backbone table: train step, inference and saved bytes, overhead over R50."""
    settings = dict(frozen_stages=1, norm_eval=True) if args.norm_eval else {}
    models = {name: build(**settings).to(device) for name, build in BACKBONES.items()}
    x = torch.randn(args.backbone_input, device=device)
    amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16

    def forward(model: nn.Module) -> torch.Tensor:
        with torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
            return sum(out.float().mean() for out in model(x))

    def train_step(model: nn.Module) -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        forward(model).backward()

    def infer(model: nn.Module) -> None:
        with torch.no_grad():
            forward(model)

    t_train = time_interleaved(
        {name: lambda m=m: train_step(m) for name, m in models.items()},
        timer,
        args.backbone_repeats,
        args.warmup,
    )
    saved = {}
    for name, model in models.items():
        model.train()
        saved[name] = saved_activation_bytes(model, lambda m=model: forward(m))
        model.zero_grad(set_to_none=True)
    for model in models.values():
        model.eval()
    t_infer = time_interleaved(
        {name: lambda m=m: infer(m) for name, m in models.items()},
        timer,
        args.backbone_repeats,
        args.warmup,
    )
    base = 'ResNet-50'
    rows = [
        [
            name,
            f'{t_train[name] * 1e3:.1f}',
            f'{100 * (t_train[name] / t_train[base] - 1):+.1f}%',
            f'{t_infer[name] * 1e3:.1f}',
            f'{100 * (t_infer[name] / t_infer[base] - 1):+.1f}%',
            _mib(saved[name]),
            f'{100 * (saved[name] / saved[base] - 1):+.1f}%',
        ]
        for name in models
    ]
    mode = 'frozen_stages=1, norm_eval=True' if args.norm_eval else 'all layers train'
    amp = f', AMP ({str(amp_dtype).split(".")[-1]})' if args.amp else ', float32'
    print(
        '\n'
        + format_table(
            [
                'backbone',
                'train step ms',
                'overhead',
                'inference ms',
                'overhead',
                'activations saved MiB',
                'overhead',
            ],
            rows,
            title=f'Backbones, input {"x".join(map(str, args.backbone_input))}{amp}, median ms; '
            f'train step = forward + backward ({mode}); activations saved = bytes autograd '
            f'keeps for backward, parameters left out; SA-R50 runs {sa_kernel_name(device)}',
        )
    )


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    timer = start_benchmark(args)
    if not args.skip_layers:
        benchmark_layers(args, device, timer)
    if not args.skip_backbone:
        benchmark_backbones(args, device, timer)


if __name__ == '__main__':
    main()
