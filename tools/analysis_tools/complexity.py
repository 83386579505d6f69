"""Params and FLOPs of SA and baseline classifiers and detectors next to the SA-Net paper's.

Counts with mmengine's analysis tools (``FlopAnalyzer``, ``parameter_count``)
and prints a table with our figures, the paper's (Table 1 at 224x224: ResNet,
SE, CBAM, SGE, ECA and SA; Table 3 at 1280x800) and the differences, followed
by notes on counting conventions.

Example:
    python tools/analysis_tools/complexity.py                  # all, ~15 min on CPU
    python tools/analysis_tools/complexity.py --only classifiers --format md
    python tools/analysis_tools/complexity.py --only classifiers --attentions SE SA
    python tools/analysis_tools/complexity.py --only baseline-detectors \\
        --baselines mask-rcnn_eca-r50_fpn_1x_coco
    python tools/analysis_tools/complexity.py --only detectors \\
        --detectors faster-rcnn_sa-r50_fpn_1x_coco
    python tools/analysis_tools/complexity.py --only configs \\
        --configs configs/toy/*.py --detector-size 128 128
"""

import argparse
from typing import List, Optional, Sequence

from analysis_lib.paper_comparison import (
    BASELINE_DETECTORS,
    CLASSIFIER_ATTENTIONS,
    DETECTOR_PAIRS,
    ComplexityRow,
    baseline_detector_rows,
    classifier_rows,
    config_rows,
    detector_rows,
)
from analysis_lib.table import FORMATS, format_table

HEADER = (
    'model',
    'input',
    'params (M)',
    'paper params (M)',
    'Δ params (M)',
    'GFLOPs (mmengine)',
    'GFLOPs (paper-style)',
    'paper GFLOPs',
    'Δ GFLOPs (paper-style)',
    'attention GFLOPs (mmengine / paper-style)',
)

NOTES = """\
Notes
- params: classifiers count all parameters, fc (2048 -> 1000) included, as the paper's
  Table 1; detectors count trainable parameters only (stem and layer1, frozen by
  frozen_stages=1, excluded), as the paper's Table 3 and mmcv 1.x's counter did. SA adds
  3C/G parameters per layer: +708 in SA-Net-50, +1,524 in SA-Net-101 (+672 / +1,488
  trainable in the detectors, layer1's SA being frozen). The paper prints SA-Net-50 as
  25.557 M (its abstract says SA adds 300 parameters), where 25,557,740 rounds to
  25.558; its SA-Net-101 figure agrees with +1,524. The -0.01 of three detectors is in
  the last printed digit; the +0.10 of RetinaNet SA-R101 is the paper's misprint (56.64,
  below its own ResNet-101 figure). The baselines' Table 1 counts all match. Our SE
  detectors have SENet's FC biases; the paper's Faster and Mask R-CNN SE rows fit SE
  without them (-0.014 / -0.025 M: build with dict(type='SqueezeExcitation', bias=False)),
  its RetinaNet SE rows SE with them.
- GFLOPs (mmengine): mmengine.analysis.FlopAnalyzer, one multiply-add = one FLOP. It counts
  convolutions, linear layers, BatchNorm (2 per element in eval mode), GroupNorm (5 per
  element), upsampling and adaptive average pooling; it does not count elementwise add,
  mul, sigmoid, ReLU, mean, max or max-pooling. Inside SA only the GroupNorm of the
  spatial halves is counted, 5 FLOPs per element: SA-Net-50 is +0.0138 GFLOPs over
  ResNet-50. SE's pooling (adaptive_avg_pool2d) and FCs are counted; ECA's and SGE's
  poolings (means) are not, nor CBAM's pools, only its MLP, 7x7 conv and BatchNorm.
- GFLOPs (paper-style): the same trace plus one FLOP per ReLU output and per max-pool
  input, with each attention layer counted by the rule the paper's module-hook counter
  (mmcv 1.x / ptflops family) implies: one FLOP per element its global pooling reads,
  plus its convolutions, linear layers and BatchNorm; no GroupNorm, sigmoid, product,
  channel-wise pooling or normalisation. SA: C/2 * H * W (the pooling of its channel
  halves; 2.76e-3 GFLOPs for SA-Net-50, the figure of the paper's abstract). SE: C*H*W +
  both FCs. ECA: C*H*W (its 1-D conv, k*C MACs = 8.8e-5 GFLOPs in ECA-ResNet-50, is left
  out; counting it gives 4.1275, printed 4.128). SGE: C*H*W. CBAM: 2*C*H*W (average and
  max pooling) + its MLP on both + 7x7 conv + BatchNorm (its channel-wise max and mean
  not counted). This reproduces all twelve GFLOPs of the paper's Table 1 (its baselines'
  figures are the ECA-Net paper's). For detectors it only approximates mmcv 1.x's
  counter (which also counted convolution biases, and no functional ReLUs); the paper's
  detector GFLOPs could not be confirmed here (n/a).
- Detectors run in tensor mode (backbone, neck and heads without post-processing), as
  mmdet's tools/analysis_tools/get_flops.py does. Two-stage detectors keep exactly 1000
  RPN proposals (RPN NMS off while counting, so the count does not depend on the
  weights; mmdet 2.x's dummy forward also used 1000); the mask head runs on 100 RoIs.
"""


def _paper(figure: Optional[float], digits: int) -> str:
    return 'n/a' if figure is None else f'{figure:.{digits}f}'


def _diff(ours: float, paper: Optional[float], digits: int) -> str:
    """``ours - paper`` with ours rounded as the paper printed its figure."""
    if paper is None:
        return 'n/a'
    diff = round(round(ours, digits) - paper, digits)
    return '0' if diff == 0 else f'{diff:+.{digits}f}'


def row_cells(row: ComplexityRow) -> List[str]:
    """The table cells of one row (params in M, FLOPs in G)."""
    c, digits = row.complexity, row.paper_digits
    params, gflops, paper_style = row.params / 1e6, c.flops / 1e9, c.paper_flops / 1e9
    attention = (
        f'{c.attention_flops / 1e9:.4f} / {c.attention_paper_flops / 1e9:.4f}'
        if c.attention_layers
        else '-'
    )
    return [
        row.model,
        row.input,
        f'{params:.3f}',
        _paper(row.paper_params, digits),
        _diff(params, row.paper_params, digits),
        f'{gflops:.3f}',
        f'{paper_style:.3f}',
        _paper(row.paper_gflops, 3),
        _diff(paper_style, row.paper_gflops, 3),
        attention,
    ]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--only',
        choices=('all', 'classifiers', 'detectors', 'baseline-detectors', 'configs'),
        default='all',
        help='which table part to compute (default: all; configs: only those given with --configs)',
    )
    parser.add_argument(
        '--attentions',
        nargs='+',
        choices=list(CLASSIFIER_ATTENTIONS),
        default=None,
        help='attention classifiers next to ResNet (default: all: '
        f'{" ".join(CLASSIFIER_ATTENTIONS)})',
    )
    parser.add_argument(
        '--baselines',
        nargs='+',
        choices=list(BASELINE_DETECTORS),
        metavar='NAME',
        help=f'baseline detector configs (default: all ten: {", ".join(BASELINE_DETECTORS)})',
    )
    parser.add_argument(
        '--detectors',
        nargs='+',
        choices=list(DETECTOR_PAIRS),
        metavar='NAME',
        help='SA detector configs to compare with their '
        f'twins (default: all six: {", ".join(DETECTOR_PAIRS)})',
    )
    parser.add_argument(
        '--configs',
        nargs='+',
        default=(),
        metavar='CONFIG',
        help='more detector configs to count (e.g. the toy ones), at --detector-size',
    )
    parser.add_argument(
        '--detector-size',
        nargs=2,
        type=int,
        default=(1280, 800),
        metavar=('W', 'H'),
        help='detector input (default: 1280 800)',
    )
    parser.add_argument(
        '--depths',
        nargs='+',
        type=int,
        default=(50, 101),
        help='classifier depths (default: 50 101)',
    )
    parser.add_argument(
        '--classifier-size', type=int, default=224, help='classifier input side (default: 224)'
    )
    parser.add_argument('--format', choices=FORMATS, default='text')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[ComplexityRow]:
    args = parse_args(argv)
    rows = []
    if args.only in ('all', 'classifiers'):
        rows += classifier_rows(args.depths, args.classifier_size, args.attentions)
    if args.only in ('all', 'detectors'):
        rows += detector_rows(args.detectors, args.detector_size)
    if args.only in ('all', 'baseline-detectors'):
        rows += baseline_detector_rows(args.baselines, args.detector_size)
    rows += config_rows(args.configs, args.detector_size)
    print(format_table(HEADER, [row_cells(row) for row in rows], args.format))
    print()
    print(NOTES)
    return rows


if __name__ == '__main__':
    main()
