"""Our complexity figures next to the SA-Net paper's (arXiv 2102.00240).

Paper figures here are only those confirmed: Table 1 (classifiers, 224x224)
and the SA detectors' parameter counts of Table 3 (1280x800, trainable
parameters only) plus its RetinaNet ResNet-101 count. Everything else is None
("n/a"), never estimated.
"""

import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .builder import build_model_from_config
from .complexity import Complexity, classifier_complexity, detector_complexity

# Paper Table 1 (ImageNet, 224x224): name -> (params in M, GFLOPs).
PAPER_CLASSIFIERS = {
    'ResNet-50': (25.557, 4.122),
    'SA-Net-50': (25.557, 4.125),
    'ResNet-101': (44.549, 7.849),
    'SA-Net-101': (44.551, 7.854),
}

# Our SA detector configs (in configs/sa_resnet/) and their plain-ResNet twins.
DETECTOR_PAIRS = {
    'faster-rcnn_sa-r50_fpn_1x_coco': 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'faster-rcnn_sa-r101_fpn_1x_coco': 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
    'mask-rcnn_sa-r50_fpn_1x_coco': 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'mask-rcnn_sa-r101_fpn_1x_coco': 'mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
    'retinanet_sa-r50_fpn_1x_coco': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'retinanet_sa-r101_fpn_1x_coco': 'mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
}

# Paper Table 3 parameter counts (M, trainable only). The paper prints 56.64 M
# for RetinaNet SA-R101, below its own ResNet-101 figure of 56.74 M.
PAPER_DETECTOR_PARAMS = {
    'faster-rcnn_sa-r50_fpn_1x_coco': 41.53,
    'faster-rcnn_sa-r101_fpn_1x_coco': 60.53,
    'mask-rcnn_sa-r50_fpn_1x_coco': 44.18,
    'mask-rcnn_sa-r101_fpn_1x_coco': 63.17,
    'retinanet_sa-r50_fpn_1x_coco': 37.74,
    'retinanet_sa-r101_fpn_1x_coco': 56.64,
    'retinanet_r101_fpn_1x_coco': 56.74,
}


@dataclass
class ComplexityRow:
    """One model's figures next to the paper's.

    Attributes:
        model (str): Model name (paper name or config name).
        input (str): Input size, ``WxH``, and RoIs for two-stage detectors.
        params (int): Parameters compared with the paper: all of them for
            classifiers, trainable ones for detectors.
        paper_params (float, optional): The paper's figure in M, None if
            unknown.
        paper_gflops (float, optional): The paper's GFLOPs, None if unknown.
        complexity (Complexity): Everything measured.
    """

    model: str
    input: str
    params: int
    paper_params: Optional[float]
    paper_gflops: Optional[float]
    complexity: Complexity


def classifier_rows(depths: Sequence[int] = (50, 101), size: int = 224) -> List[ComplexityRow]:
    """ResNet and SA-Net classifiers, as in the paper's Table 1.

    Args:
        depths (Sequence[int]): ResNet depths. Defaults to (50, 101).
        size (int): Input side. Paper figures are given only for 224.
            Defaults to 224.

    Returns:
        list[ComplexityRow]: ResNet-d then SA-Net-d for each depth.
    """
    rows = []
    for depth in depths:
        for sa, name in ((False, f'ResNet-{depth}'), (True, f'SA-Net-{depth}')):
            complexity = classifier_complexity(depth, sa=sa, size=size)
            paper = PAPER_CLASSIFIERS.get(name, (None, None)) if size == 224 else (None, None)
            rows.append(
                ComplexityRow(name, f'{size}x{size}', complexity.params, *paper, complexity)
            )
    return rows


def detector_pairs(names: Optional[Sequence[str]] = None) -> List[Tuple[str, str]]:
    """Configs of SA detectors and their plain-ResNet twins.

    Args:
        names (Sequence[str], optional): SA config names (with or without
            ``.py``), keys of :data:`DETECTOR_PAIRS`. None means all six.

    Returns:
        list[tuple[str, str]]: ``('sa_mmdet::sa_resnet/NAME.py', twin_config)``
        pairs, read from the configs installed with the package.
    """
    names = list(DETECTOR_PAIRS) if names is None else [n.replace('.py', '') for n in names]
    unknown = [name for name in names if name not in DETECTOR_PAIRS]
    if unknown:
        raise KeyError(f'unknown detector configs {unknown}; choose from {list(DETECTOR_PAIRS)}')
    return [(f'sa_mmdet::sa_resnet/{name}.py', DETECTOR_PAIRS[name]) for name in names]


def detector_rows(
    names: Optional[Sequence[str]] = None, size: Sequence[int] = (1280, 800)
) -> List[ComplexityRow]:
    """SA detectors next to their plain-ResNet twins, as in the paper's Table 3.

    Args:
        names (Sequence[str], optional): SA config names, see
            :func:`detector_pairs`. None means all six.
        size (Sequence[int]): ``(width, height)`` of the input. Paper figures
            are given only for (1280, 800). Defaults to (1280, 800).

    Returns:
        list[ComplexityRow]: The twin then the SA detector for each name.
    """
    configs = [config for pair in detector_pairs(names) for config in pair[::-1]]
    return config_rows(configs, size)


def config_rows(configs: Sequence[str], size: Sequence[int] = (1280, 800)) -> List[ComplexityRow]:
    """Any detector configs, with the paper's parameter count where it has one.

    Args:
        configs (Sequence[str]): Config paths or ``package::path`` names.
        size (Sequence[int]): ``(width, height)`` of the input. Paper figures
            are given only for (1280, 800). Defaults to (1280, 800).

    Returns:
        list[ComplexityRow]: One row per config, trainable parameters.
    """
    width, height = size
    rows = []
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        complexity = detector_complexity(build_model_from_config(config), size)
        known = tuple(size) == (1280, 800)
        paper_params = PAPER_DETECTOR_PARAMS.get(name) if known else None
        rois = complexity.extra.get('rois')
        input_desc = f'{width}x{height}' + (f', {rois} RoIs' if rois else '')
        rows.append(
            ComplexityRow(
                name, input_desc, complexity.trainable_params, paper_params, None, complexity
            )
        )
    return rows
