"""Benchmark SA-R50 against ResNet-50 as ONNX graphs in onnxruntime on the CPU.

Exports mmdet's ``ResNet`` (depth 50) and ``SAResNet`` (depth 50) as backbones
(the four stage outputs) at the ``--input`` shape, then times one inference
of each in onnxruntime (all graph optimisations on). Each figure is the median
of ``--repeats`` runs after ``--warmup`` runs, the two graphs run in turn so
that drifts of the machine's load hit them alike; SA's overhead is relative
to ResNet-50. The header names the CPU and its vector extensions.

``--end2end`` times whole detectors instead (``--configs``: Faster R-CNN, Mask
R-CNN and RetinaNet with SA-R50 by default, random init) at each of ``--sizes``:
PyTorch eager (mmdet's ``predict``, and the exported
:class:`~sa_mmdet.deploy.End2EndDetector`) against its end2end graph in
onnxruntime, per image, all at ``--threads`` threads. NMS runs on what passes
the config's ``test_cfg`` (``nms_pre``, ``score_thr``), so its share depends on
the weights' scores: random-init figures time the networks, not a trained
model's NMS load.

Example:
    python tools/analysis_tools/benchmark_onnx.py --threads 2
    python tools/analysis_tools/benchmark_onnx.py --end2end --threads 2 \\
        --sizes 128,128 800,1344
"""

import argparse
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmdet.models.backbones import ResNet
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope

from analysis_lib.benchmark_args import parse_shape
from analysis_lib.builder import build_model_from_config, load_config
from analysis_lib.table import format_table
from analysis_lib.timing import Timer, describe_device, time_interleaved
from sa_mmdet.deploy import (
    EXPORTERS,
    IMAGE_AXES,
    End2EndDetector,
    ONNXRuntimeRunner,
    export_onnx,
    onnx_op_histogram,
)
from sa_mmdet.models import SAResNet

#: The detectors ``--end2end`` times by default.
CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'sa_resnet'
DETECTORS = [
    str(CONFIGS / f'{name}_sa-r50_fpn_1x_coco.py')
    for name in ('faster-rcnn', 'mask-rcnn', 'retinanet')
]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--input',
        type=parse_shape,
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
    parser.add_argument(
        '--end2end', action='store_true', help='whole detectors, eager against onnxruntime'
    )
    parser.add_argument('--configs', nargs='+', default=DETECTORS, help='--end2end detectors')
    parser.add_argument(
        '--sizes',
        type=parse_shape,
        nargs='+',
        default=[(128, 128), (800, 1344)],
        metavar='H,W',
        help='--end2end image sizes (default: 128,128 800,1344)',
    )
    return parser.parse_args(argv)


def backbones() -> dict:
    """ResNet-50 and SA-R50 in eval mode, random SA parameters."""
    gen = torch.Generator().manual_seed(0)
    sa_r50 = SAResNet(depth=50, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        for name, param in sa_r50.named_parameters():
            if '.sa.' in name:
                param.copy_(torch.randn(param.shape, generator=gen))
    resnet50 = ResNet(depth=50, out_indices=(0, 1, 2, 3))
    resnet50.eval()  # mmdet's ResNet.train returns None
    return {'ResNet-50': resnet50, 'SA-R50': sa_r50}


def detector(config: str) -> torch.nn.Module:
    """The config's detector on the CPU, random init (seeded), in eval mode.

    Args:
        config (str): Detector config file.

    Returns:
        nn.Module: The detector, its config as ``.cfg`` (End2EndDetector reads it).
    """
    cfg = load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    model = build_model_from_config(cfg)
    model.cfg = cfg
    return model


def end2end(args: argparse.Namespace, work_dir: Path) -> dict:
    """``--end2end``: ms per image of each detector and size, eager and in onnxruntime.

    Static graphs (legacy exporter), one per detector and size, so that each
    runtime sees the same fixed shapes; the three runs of a case alternate.

    Args:
        args (argparse.Namespace): ``configs``, ``sizes``, ``threads``, ``repeats``, ``warmup``.
        work_dir (Path): Where the ONNX files go.

    Returns:
        dict: Median seconds by runtime, keyed by ``(config stem, (H, W))``.
    """
    torch.set_num_threads(args.threads or torch.get_num_threads())
    seconds, rows = {}, []
    for config in args.configs:
        model = detector(config)
        module = End2EndDetector(model).eval()
        name = Path(config).stem
        for h, w in args.sizes:
            x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
            path = work_dir / f'{name}_{h}x{w}.onnx'
            export_onnx(module, (x,), path, 'legacy', ['input'], module.output_names)
            runner = ONNXRuntimeRunner(path, threads=args.threads)
            meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0))
            meta.update(batch_input_shape=(h, w), pad_shape=(h, w))
            samples = [DetDataSample(metainfo=meta)]
            fns = {
                'mmdet predict': lambda: model.predict(x, samples, rescale=False),
                'End2EndDetector': lambda: module(x),
                'onnxruntime': lambda: runner(x),
            }
            with torch.no_grad():
                times = time_interleaved(fns, Timer(torch.device('cpu')), args.repeats, args.warmup)
            seconds[(name, (h, w))] = times
            rows.append((name, f'{h}x{w}', *(f'{t * 1e3:.1f}' for t in times.values())))
    header = ('detector', 'H x W', 'mmdet predict ms', 'End2End eager ms', 'onnxruntime ms')
    print(format_table(header, rows))
    return seconds


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.end2end:
        print(
            f'PyTorch eager and onnxruntime CPU, {describe_device(torch.device("cpu"))}, '
            f'threads: {args.threads or "all"}, batch 1, random init, legacy exporter, '
            f'ms per image, median of {args.repeats} runs'
        )
        with tempfile.TemporaryDirectory() as tmp:
            return end2end(args, Path(args.work_dir or tmp))
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
