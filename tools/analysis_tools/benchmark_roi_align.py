"""Benchmark sa_mmdet's RoIAlign (``sa_mmdet.ops.roi_align``) against mmcv's on the CPU.

Times forward and forward+backward of both at the RoI layers of the toy
detectors (configs/toy: 128 px images, 128-channel FPN, stride-4 map) and of a
COCO Faster R-CNN (800x1344 images, 256 channels, 512 RoIs per image), with
random RoIs on the stride-4 map. Each figure is the median of ``--repeats``
calls after ``--warmup``, the two implementations run in turn; both give the
same results bit for bit (tests/test_ops/test_roi_align.py). The header names
the CPU and its vector extensions.

Example:
    python tools/analysis_tools/benchmark_roi_align.py --threads 2
"""

import argparse
from typing import Optional, Sequence

import torch
from mmcv.ops import roi_align as mmcv_roi_align

from analysis_lib.table import format_table
from analysis_lib.timing import Timer, describe_device, time_interleaved
from sa_mmdet.ops import roi_align, sa_ext_available

#: name: (features N, C, H, W), RoIs, output size, sampling ratio
CASES = {
    'toy-bbox': ((4, 128, 32, 32), 256, 7, 2),
    'toy-mask': ((4, 128, 32, 32), 64, 14, 0),
    'coco-bbox': ((2, 256, 200, 336), 1024, 7, 0),
}
SPATIAL_SCALE = 0.25


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: all)')
    parser.add_argument('--repeats', type=int, default=10, help='timed calls of each')
    parser.add_argument('--warmup', type=int, default=2, help='untimed calls before those')
    parser.add_argument(
        '--cases', nargs='+', choices=tuple(CASES), default=tuple(CASES), help='what to time'
    )
    return parser.parse_args(argv)


def random_rois(features: tuple, num_rois: int, gen: torch.Generator) -> torch.Tensor:
    """RoIs inside the image (input pixels), 8 px to half the image wide, of random images."""
    n, _, h, w = features
    size = torch.tensor([w, h]) / SPATIAL_SCALE
    wh = 8 + torch.rand(num_rois, 2, generator=gen) ** 2 * (size / 2 - 8)
    xy = torch.rand(num_rois, 2, generator=gen) * (size - wh)
    batch = torch.randint(0, n, (num_rois, 1), generator=gen).float()
    return torch.cat([batch, xy, xy + wh], 1)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if not sa_ext_available():
        raise SystemExit(
            'sa_mmdet._ext is not built: build it with python setup.py build_ext --inplace'
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f'{describe_device(torch.device("cpu"))}, threads {torch.get_num_threads()}, '
        f'float32, median of {args.repeats}'
    )
    gen = torch.Generator().manual_seed(0)
    rows, results = [], {}
    for name in args.cases:
        shape, num_rois, size, ratio = CASES[name]
        features = torch.randn(shape, generator=gen).requires_grad_()
        rois = random_rois(shape, num_rois, gen)
        upstream = torch.randn(num_rois, shape[1], size, size, generator=gen)
        ops = {
            'mmcv': lambda f, r: mmcv_roi_align(f, r, size, SPATIAL_SCALE, ratio, 'avg', True),
            'ours': lambda f, r: roi_align(f, r, (size, size), SPATIAL_SCALE, ratio, True),
        }
        fns = {}
        for op_name, op in ops.items():
            fns[f'{op_name} fwd'] = lambda op=op: op(features.detach(), rois)
            fns[f'{op_name} fwd+bwd'] = lambda op=op: op(features, rois).backward(upstream)
        ms = {
            key: value * 1e3
            for key, value in time_interleaved(
                fns, Timer(torch.device('cpu')), args.repeats, args.warmup
            ).items()
        }
        results[name] = ms
        rows.append(
            (
                name,
                f'{"x".join(map(str, shape))}, {num_rois} RoIs, {size}x{size}, ratio {ratio}',
                *(f'{ms[key]:.2f}' for key in fns),
                f'{ms["mmcv fwd"] / ms["ours fwd"]:.1f}x',
                f'{ms["mmcv fwd+bwd"] / ms["ours fwd+bwd"]:.1f}x',
            )
        )
    header = ('case', 'features, RoIs', *(f'{key} ms' for key in fns), 'fwd', 'fwd+bwd')
    print(format_table(header, rows))
    return results


if __name__ == '__main__':
    main()
