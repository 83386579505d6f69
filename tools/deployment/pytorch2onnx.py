"""Export a detector to ONNX and check it against PyTorch in onnxruntime.

Loads CHECKPOINT with weights-only ``torch.load``, exports the detector's
``tensor`` mode (:class:`sa_mmdet.deploy.TensorModeDetector`: backbone, neck
and heads up to their raw outputs; a two-stage detector takes its proposals
as a second input ``rois``), then runs onnxruntime and PyTorch on a random
batch and on a real image (``--img``, by default a generated toy image) after
the config's test pipeline and data preprocessor. It prints the largest
difference relative to each output's scale, the graph's inputs and its op
histogram, and exits with status 1 when a difference exceeds ``--tolerance``.

With ``--end2end`` it exports the whole detector instead
(:class:`sa_mmdet.deploy.End2EndDetector`: images in, ``dets``, ``labels``
and ``masks`` out, NMS inside), writes the preprocessing it expects to
OUT.json, and matches onnxruntime's detections to PyTorch's on the real image
(and, with ``--dynamic``, on a batch of two at another size); it fails when
the counts differ, a detection has no match (same label, IoU >= 0.99), or a
score or mask probability differs by more than ``--tolerance``.

The default exporter is ``'dynamo'`` (torch's default, and it exports every
graph here, end2end included); ``'legacy'`` (TorchScript, what mmdeploy uses)
exports the same graphs about ten times faster.

Example:
    python tools/deployment/pytorch2onnx.py \\
        configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py epoch_8.pth faster-rcnn.onnx \\
        --dynamic --exporter legacy
    python tools/deployment/pytorch2onnx.py \\
        configs/toy/mask-rcnn_sa-r50_fpn_8e_toy-shapes.py epoch_8.pth mask-rcnn.onnx \\
        --end2end --dynamic
"""

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmdet.apis import init_detector
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.runner import load_state_dict
from torch import Tensor

from sa_mmdet.deploy import (
    EXPORTERS,
    IMAGE_AXES,
    ROI_AXES,
    End2EndDetector,
    ONNXRuntimeRunner,
    TensorModeDetector,
    compare_detections,
    export_onnx,
    onnx_dims,
    onnx_op_histogram,
    preprocess_meta,
    relative_difference,
    rois_from_rpn,
    write_preprocess_meta,
)
from sa_mmdet.utils import read_checkpoint, register_config_package

#: Default tolerance: largest difference relative to an output's scale.
TOLERANCE = 1e-4


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='detector config')
    parser.add_argument('checkpoint', help='its checkpoint (weights-only loadable)')
    parser.add_argument('out', help='ONNX file to write')
    parser.add_argument(
        '--end2end',
        action='store_true',
        help='export the whole detector, NMS inside (outputs dets, labels, masks)',
    )
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='image size of the export example (default: the real image after the pipeline)',
    )
    parser.add_argument(
        '--dynamic', action='store_true', help='dynamic batch, height and width (RoIs always)'
    )
    parser.add_argument('--exporter', choices=EXPORTERS, default='dynamo')
    parser.add_argument('--img', help='real image to check (default: a generated toy image)')
    parser.add_argument('--tolerance', type=float, default=TOLERANCE)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def load_detector(config: str, checkpoint: str) -> torch.nn.Module:
    """Build the config's detector on the CPU and load ``checkpoint`` weights-only."""
    state = read_checkpoint(checkpoint)
    cfg = Config.fromfile(config)
    model = init_detector(cfg, checkpoint=None, device='cpu', palette='none')
    try:
        load_state_dict(model, state.get('state_dict', state), strict=True)
    except RuntimeError as error:
        raise ValueError(
            f'{checkpoint} does not fit {config}: {error}\nExport with the config the '
            f'checkpoint was trained with (its work_dir holds a copy).'
        ) from error
    if 'dataset_meta' in state.get('meta', {}):
        model.dataset_meta = state['meta']['dataset_meta']
    return model.eval()


def toy_image(path: Path, seed: int) -> str:
    """Write a generated toy image (shapes on a textured background) to ``path``."""
    # the toy data generator is a tool of tools/dataset_converters, not of the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'dataset_converters'))
    from toy_coco import draw_toy_image

    image, _ = draw_toy_image(np.random.default_rng(seed), 192)
    cv2.imwrite(str(path), image)
    return str(path)


def preprocess(model: torch.nn.Module, img: str) -> Tuple[Tensor, List[dict]]:
    """The image as the detector sees it: test pipeline, then data preprocessor."""
    pipeline_cfg = [t for t in get_test_pipeline_cfg(model.cfg) if t['type'] != 'LoadAnnotations']
    data = Compose(pipeline_cfg)(dict(img_path=img, img_id=0))
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([data]), False)
    return data['inputs'], [s.metainfo for s in data['data_samples']]


def with_rois(module: TensorModeDetector, x: Tensor, metas: List[dict]) -> Tuple[Tensor, ...]:
    """``(x,)``, or ``(x, rois)`` with the detector's own proposals for a two-stage one."""
    if not module.two_stage:
        return (x,)
    with torch.no_grad():
        rpn = module.detector.rpn_head(module.detector.extract_feat(x))
    return x, rois_from_rpn(module.detector, [t for level in rpn for t in level], metas)


def random_case(
    module: TensorModeDetector, shape: Tuple[int, int, int], gen: torch.Generator
) -> Tuple[Tensor, ...]:
    n, h, w = shape
    x = torch.randn(n, 3, h, w, generator=gen)
    return with_rois(module, x, [dict(img_shape=(h, w), batch_input_shape=(h, w))] * n)


def end2end_example(module: End2EndDetector, real: Tensor, args: argparse.Namespace) -> Tensor:
    """The export example: the image, for a dynamic dynamo export zero-padded to
    ``module.dynamic_example_size`` and twice (torch.export specialises 1s)."""
    if not (args.dynamic and args.exporter == 'dynamo'):
        return real
    size = module.dynamic_example_size
    h, w = real.shape[2:]
    padded = F.pad(real, (0, max(size - w, 0), 0, max(size - h, 0)))
    return padded.expand(2, -1, -1, -1).contiguous()


def export_end2end(
    args: argparse.Namespace, model: torch.nn.Module, real: Tensor, img_name: str
) -> int:
    """``--end2end``: export End2EndDetector, write OUT.json, match onnxruntime to PyTorch."""
    module = End2EndDetector(model).eval()  # raises for what it does not cover, first
    if args.shape:
        real = F.interpolate(real, tuple(args.shape), mode='bilinear')
    example = end2end_example(module, real, args)
    print(f'exporting {type(model).__name__} end2end ({args.exporter}) to {args.out}')
    axes = [IMAGE_AXES] if args.dynamic else None
    export_onnx(module, (example,), args.out, args.exporter, ['input'], module.output_names, axes)
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    meta = preprocess_meta(model.cfg, module.output_names, classes)
    print('preprocessing:', write_preprocess_meta(Path(args.out).with_suffix('.json'), meta))
    cases = {img_name: real}
    if args.dynamic:  # another batch size and image size: the image and its mirror, resized
        h, w = real.shape[2:]
        pair = torch.cat([real, real.flip(3)])
        cases['image and mirror'] = F.interpolate(pair, (h + 32, w + 64), mode='bilinear')
    runner = ONNXRuntimeRunner(args.out)
    ok = True
    for name, x in cases.items():
        with torch.no_grad():
            expected = module(x)
        diff = compare_detections(expected, runner(x))
        ok = ok and diff.ok(args.tolerance)
        print(f'{name}: input {tuple(x.shape)}, {diff}')
    print('inputs:', onnx_dims(args.out))
    print('op histogram:', dict(onnx_op_histogram(args.out).most_common()))
    if not ok:
        print(
            f'FAILED: the detections of onnxruntime and PyTorch differ (count, match, or score '
            f'or mask above --tolerance {args.tolerance:g}); do not deploy {args.out}.',
            file=sys.stderr,
        )
        return 1
    print(f'OK: onnxruntime finds the detections of PyTorch within {args.tolerance:g}.')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    register_config_package()
    model = load_detector(args.config, args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        img = args.img or toy_image(Path(tmp) / 'toy.jpg', args.seed)
        real, metas = preprocess(model, img)
    img_name = f'image {Path(img).name if args.img else "(toy)"}'
    if args.end2end:
        return export_end2end(args, model, real, img_name)
    module = TensorModeDetector(model).eval()
    gen = torch.Generator().manual_seed(args.seed)
    export_shape = tuple(args.shape) if args.shape else tuple(real.shape[2:])
    if args.shape:
        example = random_case(module, (1, *export_shape), gen)
    else:
        example = with_rois(module, real, metas)
    if tuple(real.shape[2:]) != export_shape and not args.dynamic:  # a static graph
        real = torch.nn.functional.interpolate(real, export_shape, mode='bilinear')
        metas = [dict(m, img_shape=export_shape, batch_input_shape=export_shape) for m in metas]
    axes = [IMAGE_AXES if args.dynamic else None, ROI_AXES][: len(example)]
    names = module.output_names(*example)
    print(f'exporting {type(model).__name__} ({args.exporter}) at {export_shape} to {args.out}')
    export_onnx(module, example, args.out, args.exporter, module.input_names, names, axes)

    runner = ONNXRuntimeRunner(args.out)
    h, w = export_shape
    cases = {
        'random': random_case(module, (2, h + 32, w + 64) if args.dynamic else (1, h, w), gen),
        img_name: with_rois(module, real, metas),
    }
    worst = 0.0
    for name, inputs in cases.items():
        with torch.no_grad():
            expected = module(*inputs)
        diff = relative_difference(expected, runner(*inputs))
        worst = max(worst, diff)
        shapes = ', '.join(str(tuple(t.shape)) for t in inputs)
        print(f'{name}: inputs {shapes}, max difference {diff:.3g} (relative)')
    print('inputs:', onnx_dims(args.out))
    print('op histogram:', dict(onnx_op_histogram(args.out).most_common()))
    if worst > args.tolerance:
        print(
            f'FAILED: onnxruntime differs from PyTorch by {worst:.3g} (relative), more than '
            f'--tolerance {args.tolerance:g}; do not deploy {args.out}.',
            file=sys.stderr,
        )
        return 1
    print(f'OK: onnxruntime matches PyTorch within {args.tolerance:g} (relative).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
