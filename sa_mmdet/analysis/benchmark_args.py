"""Command-line options shared by the layer-and-backbone benchmark tools.

``tools/analysis_tools/benchmark_sa.py`` and ``tools/analysis_tools/benchmark_attention.py``
time layers at the SA benchmark shapes and backbones at one input, on a CPU or a GPU.
"""

import argparse

import torch

from ..ops import sa_backend
from .allocator import keep_freed_memory
from .timing import Timer, describe_device

#: Layer inputs: stage 1 of a detector at 800x1344 (2 images), stage 3, and a batch of 8 at 224.
SA_SHAPES = ((2, 256, 200, 336), (2, 1024, 50, 84), (8, 512, 28, 28))


def parse_shape(text: str) -> tuple:
    """``'2,256,200,336'`` -> ``(2, 256, 200, 336)``."""
    return tuple(int(v) for v in text.split(','))


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options both benchmarks take: device, threads, repeats, shapes, dtype, backbone
    input, AMP, BN mode, clock. :func:`resolve_benchmark_defaults` fills the device-dependent
    defaults after parsing.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch intra-op threads on the CPU (default: torch default)',
    )
    parser.add_argument(
        '--repeats', type=int, default=None, help='timed runs per layer (default: 10 CPU, 50 CUDA)'
    )
    parser.add_argument(
        '--backbone-repeats',
        type=int,
        default=None,
        help='timed runs per backbone (default: 5 CPU, 20 CUDA)',
    )
    parser.add_argument('--warmup', type=int, default=3, help='untimed runs before timing')
    parser.add_argument(
        '--shapes',
        type=parse_shape,
        nargs='+',
        default=SA_SHAPES,
        metavar='N,C,H,W',
        help='layer input shapes (default: the SA benchmark shapes)',
    )
    parser.add_argument(
        '--dtype',
        choices=('float32', 'float16', 'bfloat16'),
        default='float32',
        help='dtype of the layer inputs (default: float32)',
    )
    parser.add_argument(
        '--backbone-input',
        type=parse_shape,
        default=None,
        metavar='N,C,H,W',
        help='backbone input (default: 2,3,512,512 CPU, 2,3,800,1344 CUDA)',
    )
    parser.add_argument(
        '--amp',
        choices=('on', 'off'),
        default=None,
        help='backbones under autocast (fp16 on CUDA, bf16 on the CPU); '
        'default: on for CUDA, off for the CPU',
    )
    parser.add_argument(
        '--norm-eval',
        action='store_true',
        help='backbones with frozen_stages=1, norm_eval=True as in the detection configs '
        '(default: every layer trains, BN in train mode)',
    )
    parser.add_argument('--skip-backbone', action='store_true', help='only benchmark layers')
    parser.add_argument(
        '--clock',
        choices=('wall', 'process'),
        default='wall',
        help='CPU clock: wall (elapsed) or process (CPU time of this process, '
        'for --threads 1 on a machine shared with other jobs)',
    )
    parser.add_argument(
        '--malloc',
        choices=('steady', 'default'),
        default='steady',
        help="CPU: 'steady' (glibc malloc keeps freed memory: no page faults per call, "
        "sa_mmdet.analysis.allocator) or glibc's default (tensors over its mmap threshold "
        'are mapped anew, and page-faulted, in many calls)',
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
