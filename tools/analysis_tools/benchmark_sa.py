"""Benchmark fast vs reference Shuffle Attention and SA-ResNet-50 vs ResNet-50.

Prints, from one run:

1. one SA layer, forward + backward and forward alone, reference vs fast
   (the fast layer runs the compiled CPU kernel ``sa_mmdet._ext`` where it was
   built, else pure PyTorch; with the kernel the table also shows the fast
   layer's pure-PyTorch path);
2. the bytes one SA layer saves for backward;
3. the memory bandwidth the fast layer achieves, against a plain copy
   (``Tensor.clone``) of the same tensor, the practical limit; a forward moves
   at least 2 tensors (read x, write y), forward + backward at least 5 (also
   read x and dy, write dx);
4. backbone train step (forward + backward of the sum of all stage outputs)
   and inference (eval mode, ``torch.no_grad``) of mmdet's ``ResNet`` vs
   ``SAResNet`` (depth 50, reference / fast / fast with the shuffle folded
   into conv3/bn3), and SA's overhead in %.

Each number is the median over ``--repeats`` runs after ``--warmup`` runs; the
variants of one table are run interleaved, so machine load drifts hit them
alike.

Example:
    python tools/analysis_tools/benchmark_sa.py --threads 2
"""
import argparse
import math
import statistics
import time
from typing import Callable, Dict, List, Sequence

import torch
from mmdet.models.backbones import ResNet

from sa_mmdet import fold_shuffle_attention
from sa_mmdet.models import SAResNet, ShuffleAttention
from sa_mmdet.models.layers import sa_backend, sa_kernel_enabled
from sa_mmdet.utils import saved_tensor_bytes

SA_SHAPES = ((2, 256, 200, 336), (2, 1024, 50, 84), (8, 512, 28, 28))


def parse_shape(text: str) -> tuple:
    return tuple(int(v) for v in text.split(','))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: torch default)')
    parser.add_argument('--repeats', type=int, default=10, help='timed runs per SA layer case')
    parser.add_argument('--backbone-repeats', type=int, default=5,
                        help='timed runs per backbone case')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs before timing')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--shapes', type=parse_shape, nargs='+', default=SA_SHAPES,
                        metavar='N,C,H,W', help='SA layer input shapes')
    parser.add_argument('--backbone-input', type=parse_shape, default=(2, 3, 512, 512),
                        metavar='N,C,H,W', help='backbone input shape')
    parser.add_argument('--norm-eval', action='store_true',
                        help='backbones with frozen_stages=1, norm_eval=True as in the '
                        'detection configs (default: every layer trains, BN in train mode)')
    parser.add_argument('--skip-backbone', action='store_true', help='only benchmark SA layers')
    parser.add_argument('--clock', choices=('wall', 'process'), default='wall',
                        help='wall: elapsed time; process: CPU time of this process, for '
                        '--threads 1 on a machine shared with other jobs')
    return parser.parse_args()


CLOCKS = dict(wall=time.perf_counter, process=time.process_time)


def time_interleaved(fns: Dict[str, Callable[[], None]], args: argparse.Namespace,
                     repeats: int, device: torch.device) -> Dict[str, float]:
    """Median seconds per call of each function, the functions run in turn."""
    clock = CLOCKS[args.clock]
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for step in range(args.warmup + repeats):
        for name, fn in fns.items():
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            start = clock()
            fn()
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            if step >= args.warmup:
                times[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_table(title: str, header: Sequence[str], rows: List[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f'\n{title}')
    for row in [header, ['-' * w for w in widths], *rows]:
        print('  '.join(str(v).rjust(w) for v, w in zip(row, widths)))


def without_kernel(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn`` run on the pure-PyTorch path of the fast layer."""

    def run() -> None:
        with sa_kernel_enabled(False):
            fn()

    return run


def benchmark_layers(args: argparse.Namespace, device: torch.device) -> None:
    speed_rows, memory_rows, bandwidth_rows, speedups = [], [], [], []
    # where the kernel runs, the pure-PyTorch path is shown beside it
    compare_pytorch = kernel_runs_on(device)
    for shape in args.shapes:
        x = torch.randn(shape, device=device, requires_grad=True)
        grad = torch.randn(shape, device=device)
        layers = {impl: ShuffleAttention(shape[1], implementation=impl).to(device)
                  for impl in ('reference', 'fast')}

        def train_step(layer=None):
            x.grad = None
            layer(x).backward(grad)

        def forward(layer=None):
            with torch.no_grad():
                layer(x)

        fns = {}
        for impl, layer in layers.items():
            fns[f'{impl} fwd+bwd'] = lambda layer=layer: train_step(layer)
            fns[f'{impl} fwd'] = lambda layer=layer: forward(layer)
        if compare_pytorch:
            fns['pytorch fwd+bwd'] = without_kernel(lambda: train_step(layers['fast']))
            fns['pytorch fwd'] = without_kernel(lambda: forward(layers['fast']))
        fns['copy'] = lambda: x.detach().clone()
        t = time_interleaved(fns, args, args.repeats, device)
        speedup = t['reference fwd+bwd'] / t['fast fwd+bwd']
        speedups.append(speedup)
        name = 'x'.join(map(str, shape))
        speed_rows.append([
            name, f"{t['reference fwd+bwd'] * 1e3:.2f}", f"{t['fast fwd+bwd'] * 1e3:.2f}",
            f'{speedup:.2f}x', f"{t['reference fwd'] * 1e3:.2f}", f"{t['fast fwd'] * 1e3:.2f}",
            f"{t['reference fwd'] / t['fast fwd']:.2f}x"
        ])
        if compare_pytorch:
            speed_rows[-1] += [f"{t['pytorch fwd+bwd'] * 1e3:.2f}", f"{t['pytorch fwd'] * 1e3:.2f}"]
        nbytes = x.numel() * x.element_size()
        saved = {impl: saved_tensor_bytes(layer, x)[1] for impl, layer in layers.items()}
        memory_rows.append([
            name, f'{nbytes / 2**20:.1f}', f"{saved['reference'] / 2**20:.1f}",
            f"{saved['fast'] / 2**20:.1f}", f"{saved['fast'] / nbytes:.3f}x"
        ])
        copy_bw = 2 * nbytes / t['copy']
        fwd_bw = 2 * nbytes / t['fast fwd']
        train_bw = 5 * nbytes / t['fast fwd+bwd']
        bandwidth_rows.append([
            name, f'{copy_bw / 1e9:.1f}', f'{fwd_bw / 1e9:.1f}', f'{100 * fwd_bw / copy_bw:.0f}%',
            f'{train_bw / 1e9:.1f}', f'{100 * train_bw / copy_bw:.0f}%'
        ])
    geomean = math.exp(sum(map(math.log, speedups)) / len(speedups))
    header = ['input', 'ref fwd+bwd', 'fast fwd+bwd', 'speedup', 'ref fwd', 'fast fwd', 'speedup']
    if compare_pytorch:
        header += ['pytorch fwd+bwd', 'pytorch fwd']
    print_table(f'ShuffleAttention layer, ms (median), geometric mean fwd+bwd speedup '
                f'{geomean:.2f}x; fast = {backend_name(device)}', header, speed_rows)
    print_table('Saved for backward by one layer, MiB',
                ['input', 'input size', 'reference', 'fast', 'fast / input'], memory_rows)
    print_table('Fast layer bandwidth, GB/s (minimal traffic / time) vs a copy of the input',
                ['input', 'copy', 'fast fwd', 'of copy', 'fast fwd+bwd', 'of copy'],
                bandwidth_rows)


def benchmark_backbones(args: argparse.Namespace, device: torch.device) -> None:
    settings = dict(frozen_stages=1, norm_eval=True) if args.norm_eval else {}
    models = {
        'ResNet-50': ResNet(depth=50, **settings),
        'SA-R50 reference': SAResNet(depth=50, **settings),
        'SA-R50 fast': SAResNet(depth=50, **settings),
    }
    for module in models['SA-R50 reference'].modules():
        if isinstance(module, ShuffleAttention):
            module.implementation = 'reference'
    for model in models.values():
        model.to(device)
    x = torch.randn(args.backbone_input, device=device)

    def train_step(model):
        model.train()
        model.zero_grad(set_to_none=True)
        sum(out.sum() for out in model(x)).backward()

    t_train = time_interleaved({name: lambda m=m: train_step(m) for name, m in models.items()},
                               args, args.backbone_repeats, device)
    for model in models.values():
        model.eval()
    models['SA-R50 fast folded'] = fold_shuffle_attention(models['SA-R50 fast'])

    def infer(model):
        with torch.no_grad():
            model(x)

    t_infer = time_interleaved({name: lambda m=m: infer(m) for name, m in models.items()},
                               args, args.backbone_repeats, device)
    base_train, base_infer = t_train['ResNet-50'], t_infer['ResNet-50']
    rows = []
    for name in models:
        train = t_train.get(name)
        rows.append([
            name, f'{train * 1e3:.1f}' if train else '-',
            f'{100 * (train / base_train - 1):+.1f}%' if train else '-',
            f'{t_infer[name] * 1e3:.1f}', f'{100 * (t_infer[name] / base_infer - 1):+.1f}%'
        ])
    mode = 'frozen_stages=1, norm_eval=True' if args.norm_eval else 'all layers train'
    print_table(f"Backbones, input {'x'.join(map(str, args.backbone_input))}, ms (median); "
                f'train step = forward + backward ({mode})',
                ['backbone', 'train step', 'overhead', 'inference', 'overhead'], rows)


def kernel_runs_on(device: torch.device) -> bool:
    """Whether the fast layer runs the compiled kernel on ``device`` (CPU only)."""
    return device.type == 'cpu' and sa_backend() == 'cpp'


def backend_name(device: torch.device) -> str:
    """Which code the fast layer runs on ``device``."""
    if kernel_runs_on(device):
        return 'compiled CPU kernel (sa_mmdet._ext)'
    if device.type == 'cpu':
        return 'pure PyTorch (sa_mmdet._ext not built or disabled)'
    return 'pure PyTorch'


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f'torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, '
          f'repeats {args.repeats} (backbone {args.backbone_repeats}), warmup {args.warmup}, '
          f'{args.clock} clock')
    print(f'fast Shuffle Attention backend: {backend_name(device)}')
    benchmark_layers(args, device)
    if not args.skip_backbone:
        benchmark_backbones(args, device)


if __name__ == '__main__':
    main()
