"""Benchmark SA-R50 against ResNet-50 as ONNX graphs in onnxruntime on the CPU.

Exports mmdet's ``ResNet`` (depth 50) and ``SAResNet`` (depth 50, unfolded and
folded with :func:`sa_mmdet.deploy.fold_shuffle_attention`) as backbones
(the four stage outputs) at the ``--input`` shape, then times one inference
of each in onnxruntime (all graph optimisations on). Each figure is the median
of ``--repeats`` runs after ``--warmup`` runs, the three graphs run in turn so
that drifts of the machine's load hit them alike; SA's overhead is relative
to ResNet-50. The header names the CPU and its vector extensions.

Example:
    python tools/analysis_tools/benchmark_onnx.py --threads 2
"""

import argparse
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmdet.models.backbones import ResNet

from sa_mmdet.analysis.table import format_table
from sa_mmdet.analysis.timing import Timer, describe_device, time_interleaved
from sa_mmdet.deploy import (
    EXPORTERS,
    IMAGE_AXES,
    ONNXRuntimeRunner,
    export_onnx,
    fold_shuffle_attention,
    onnx_op_histogram,
)
from sa_mmdet.models import SAResNet


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--input',
        type=lambda text: tuple(int(v) for v in text.split(',')),
        default=(1, 3, 800, 1344),
        metavar='N,C,H,W',
        help='input shape (default: 1,3,800,1344)',
    )
    parser.add_argument(
        '--threads', type=int, default=None, help='onnxruntime intra-op threads (default: all)'
    )
    parser.add_argument('--repeats', type=int, default=10, help='timed runs per graph')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs first')
    parser.add_argument('--exporter', choices=EXPORTERS, default='legacy')
    parser.add_argument('--dynamic', action='store_true', help='export with dynamic N, H, W')
    parser.add_argument('--work-dir', help='keep the ONNX files here (default: a temporary dir)')
    return parser.parse_args(argv)


def backbones() -> dict:
    """ResNet-50 and SA-R50 (unfolded, folded) in eval mode, random SA parameters."""
    gen = torch.Generator().manual_seed(0)
    sa_r50 = SAResNet(depth=50, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        for name, param in sa_r50.named_parameters():
            if '.sa.' in name:
                param.copy_(torch.randn(param.shape, generator=gen))
    resnet50 = ResNet(depth=50, out_indices=(0, 1, 2, 3))
    resnet50.eval()  # mmdet's ResNet.train returns None
    return {
        'ResNet-50': resnet50,
        'SA-R50': sa_r50,
        'SA-R50 folded': fold_shuffle_attention(sa_r50),
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    print(
        f'onnxruntime CPU, {describe_device(torch.device("cpu"))}, '
        f'threads: {args.threads or "all"}, input {"x".join(map(str, args.input))}, '
        f'{args.exporter} exporter, median of {args.repeats}'
    )
    x = torch.randn(*args.input, generator=torch.Generator().manual_seed(1))
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = Path(args.work_dir or tmp)
        runners, ops = {}, {}
        for name, model in backbones().items():
            path = work_dir / (name.lower().replace(' ', '_') + '.onnx')
            axes = [IMAGE_AXES if args.dynamic else None]
            export_onnx(model, (x,), path, args.exporter, dynamic_axes=axes)
            runners[name] = ONNXRuntimeRunner(path, threads=args.threads)
            ops[name] = onnx_op_histogram(path)
        feeds = {name: (lambda r=runner: r(x)) for name, runner in runners.items()}
        seconds = time_interleaved(feeds, Timer(torch.device('cpu')), args.repeats, args.warmup)
    base = seconds['ResNet-50']
    rows = [
        (
            name,
            f'{value * 1e3:.1f}',
            '-' if name == 'ResNet-50' else f'{100 * (value / base - 1):+.1f}%',
            sum(ops[name].values()),
            ops[name]['Transpose'],
        )
        for name, value in seconds.items()
    ]
    header = ('graph', 'median ms', 'overhead', 'ONNX nodes', 'Transpose')
    print(format_table(header, rows))
    return seconds


if __name__ == '__main__':
    main()
