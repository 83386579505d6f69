"""Options and steps shared by the benchmark tools benchmark_sa.py and benchmark_attention.py."""

import argparse
from functools import partial
from typing import Callable, Dict, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from sa_mmdet.ops import sa_backend

from .allocator import keep_freed_memory
from .timing import Timer, describe_device, time_interleaved

#: Layer inputs: stage 1 of a detector at 800x1344 (2 images), stage 3, and a batch of 8 at 224.
SA_SHAPES = ((2, 256, 200, 336), (2, 1024, 50, 84), (8, 512, 28, 28))
#: Backbones run under autocast in these dtypes with ``--amp on``.
AMP_DTYPES = {'cuda': torch.float16, 'cpu': torch.bfloat16}


def parse_shape(text: str) -> tuple:
    """``'2,256,200,336'`` -> ``(2, 256, 200, 336)``."""
    return tuple(int(v) for v in text.split(','))


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options both benchmarks take; :func:`resolve_benchmark_defaults` completes them.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    add = parser.add_argument
    add('--device', default='cpu', help='cpu or cuda')
    add('--threads', type=int, help='torch intra-op threads on the CPU (default: torch default)')
    add('--repeats', type=int, help='timed runs per layer (default: 10 CPU, 50 CUDA)')
    add('--backbone-repeats', type=int, help='timed runs per backbone (default: 5 CPU, 20 CUDA)')
    add('--warmup', type=int, default=3, help='untimed runs before timing')
    add(
        '--shapes',
        type=parse_shape,
        nargs='+',
        default=SA_SHAPES,
        metavar='N,C,H,W',
        help='layer input shapes (default: the SA benchmark shapes)',
    )
    add(
        '--dtype',
        choices=('float32', 'float16', 'bfloat16'),
        default='float32',
        help='dtype of the layer inputs',
    )
    add(
        '--backbone-input',
        type=parse_shape,
        metavar='N,C,H,W',
        help='backbone input (default: 2,3,512,512 CPU, 2,3,800,1344 CUDA)',
    )
    add(
        '--amp',
        choices=('on', 'off'),
        help='backbones under autocast, fp16 on CUDA, bf16 on the CPU (default: on for CUDA)',
    )
    add(
        '--norm-eval',
        action='store_true',
        help='backbones with frozen_stages=1, norm_eval=True as in the detection configs '
        '(default: every layer trains, BN in train mode)',
    )
    add('--skip-backbone', action='store_true', help='only benchmark layers')
    add(
        '--clock',
        choices=('wall', 'process'),
        default='wall',
        help='CPU clock: wall (elapsed) or process (CPU time of this process, for --threads 1 '
        'on a machine shared with other jobs)',
    )
    add(
        '--malloc',
        choices=('steady', 'default'),
        default='steady',
        help="CPU: 'steady' (glibc malloc keeps freed memory, analysis_lib.allocator) or "
        "glibc's default (large tensors mapped and page-faulted anew in many calls)",
    )


def resolve_benchmark_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the defaults that depend on the device (repeats, backbone input, AMP).

    Args:
        args (argparse.Namespace): Parsed options of :func:`add_benchmark_arguments`.

    Returns:
        argparse.Namespace: ``args``, completed.
    """
    cuda = args.device.startswith('cuda')
    args.repeats = args.repeats or (50 if cuda else 10)
    args.backbone_repeats = args.backbone_repeats or (20 if cuda else 5)
    args.backbone_input = args.backbone_input or ((2, 3, 800, 1344) if cuda else (2, 3, 512, 512))
    args.amp = (args.amp or ('on' if cuda else 'off')) == 'on'
    return args


def sa_kernel_name(device: torch.device) -> str:
    """What SA's operator runs on ``device``, for the benchmarks' headers."""
    return {
        'cpp': 'compiled CPU kernel (sa_mmdet._ext)',
        'triton': 'Triton kernels',
        'pytorch': 'pure PyTorch',
    }[sa_backend(device)]


def start_benchmark(args: argparse.Namespace, ours: str = '') -> Timer:
    """Apply the host settings of ``args`` (threads, malloc) and print the run's header.

    Args:
        args (argparse.Namespace): Completed options of :func:`add_benchmark_arguments`.
        ours (str): What "ours" runs, for the header. Defaults to ''.

    Returns:
        Timer: The timer of ``args.device`` and ``args.clock``.
    """
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc = ''
    if device.type == 'cpu':
        steady = args.malloc == 'steady' and keep_freed_memory()
        malloc = ', malloc: ' + ('steady (freed memory kept)' if steady else 'default')
    print(f'torch {torch.__version__}, device {device}: {describe_device(device)}')
    print(
        f'threads {torch.get_num_threads()}, repeats {args.repeats} (backbone '
        f'{args.backbone_repeats}), warmup {args.warmup}, '
        f'{"CUDA events" if device.type == "cuda" else args.clock + " clock"}{malloc}'
        + (f'; ours = {ours}' if ours else '')
    )
    return Timer(device, args.clock)


def forward_fn(layer: nn.Module, x: Tensor) -> Callable[[], Tensor]:
    """A call of ``layer(x)`` without autograd, to time."""
    return torch.no_grad()(partial(layer, x))


def train_fn(layer: nn.Module, x: Tensor, grad: Tensor) -> Callable[[], object]:
    """A call of ``layer(x)`` and its backward for ``grad``, to time."""
    return lambda: torch.autograd.grad(layer(x), [x, *layer.parameters()], grad)


def backbone_loss(model: nn.Module, x: Tensor, amp: bool) -> Tensor:
    """The sum of the means of a backbone's outputs, under autocast if ``amp``."""
    with torch.autocast(x.device.type, dtype=AMP_DTYPES[x.device.type], enabled=amp):
        return sum(out.float().mean() for out in model(x))


def time_backbones(
    args: argparse.Namespace, models: Dict[str, nn.Module], timer: Timer
) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Median seconds of a train step and of inference of each backbone, by name.

    A train step is forward + backward of :func:`backbone_loss`; the backbones end in eval mode.
    """
    x = torch.randn(args.backbone_input, device=args.device)

    def train_step(model: nn.Module) -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        backbone_loss(model, x, args.amp).backward()

    fns = {name: partial(train_step, model) for name, model in models.items()}
    t_train = time_interleaved(fns, timer, args.backbone_repeats, args.warmup)
    for model in models.values():
        model.eval()
    with torch.no_grad():
        fns = {name: partial(backbone_loss, model, x, args.amp) for name, model in models.items()}
        t_infer = time_interleaved(fns, timer, args.backbone_repeats, args.warmup)
    return t_train, t_infer


def backbone_title(args: argparse.Namespace) -> str:
    """The start of the backbone table's title: input, precision, what trains."""
    amp = str(AMP_DTYPES[torch.device(args.device).type]).split('.')[-1]
    precision = f'AMP ({amp})' if args.amp else 'float32'
    mode = 'frozen_stages=1, norm_eval=True' if args.norm_eval else 'all layers train'
    shape = 'x'.join(map(str, args.backbone_input))
    return (
        f'Backbones, input {shape}, {precision}, median ms; '
        f'train step = forward + backward ({mode})'
    )
