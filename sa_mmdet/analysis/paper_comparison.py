"""Our complexity figures next to the SA-Net paper's (arXiv 2102.00240).

Paper figures here are only those confirmed: Table 1 (classifiers, 224x224,
SA-Net and its baselines SE, CBAM, SGE and ECA) and the detectors' parameter
counts of Table 3 (1280x800, trainable parameters only: SA, SE and the
RetinaNet ResNet-101). Everything else is None ("n/a"), never estimated.
"""

import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .builder import build_model_from_config
from .complexity import Complexity, classifier_complexity, detector_complexity

# Paper Table 1 (ImageNet, 224x224): name -> (params in M, GFLOPs), printed
# with 3 decimals.
PAPER_CLASSIFIERS = {
    'ResNet-50': (25.557, 4.122),
    'SE-ResNet-50': (28.088, 4.130),
    'CBAM-ResNet-50': (28.090, 4.139),
    'SGE-ResNet-50': (25.559, 4.127),
    'ECA-ResNet-50': (25.557, 4.127),
    'SA-Net-50': (25.557, 4.125),
    'ResNet-101': (44.549, 7.849),
    'SE-ResNet-101': (49.327, 7.863),
    'CBAM-ResNet-101': (49.330, 7.879),
    'SGE-ResNet-101': (44.553, 7.858),
    'ECA-ResNet-101': (44.549, 7.858),
    'SA-Net-101': (44.551, 7.854),
}

# Table 1's attention networks, in its order: key -> (name pattern, attention
# config of AttentionResNet; None for SAResNet).
CLASSIFIER_ATTENTIONS = {
    'SE': ('SE-ResNet-{}', dict(type='SqueezeExcitation')),
    'CBAM': ('CBAM-ResNet-{}', dict(type='CBAM')),
    'SGE': ('SGE-ResNet-{}', dict(type='SpatialGroupEnhance')),
    'ECA': ('ECA-ResNet-{}', dict(type='EfficientChannelAttention')),
    'SA': ('SA-Net-{}', None),
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

# The baseline detector configs (in configs/attention_baselines/): Table 3's SE
# rows and Table 4's Mask R-CNN rows.
BASELINE_DETECTORS = (
    'faster-rcnn_se-r50_fpn_1x_coco',
    'faster-rcnn_se-r101_fpn_1x_coco',
    'mask-rcnn_se-r50_fpn_1x_coco',
    'mask-rcnn_se-r101_fpn_1x_coco',
    'mask-rcnn_eca-r50_fpn_1x_coco',
    'mask-rcnn_eca-r101_fpn_1x_coco',
    'mask-rcnn_sge-r50_fpn_1x_coco',
    'mask-rcnn_sge-r101_fpn_1x_coco',
    'retinanet_se-r50_fpn_1x_coco',
    'retinanet_se-r101_fpn_1x_coco',
)

# Paper Table 3 parameter counts (M, trainable only), printed with 2 decimals.
# The paper prints 56.64 M for RetinaNet SA-R101, below its own ResNet-101
# figure of 56.74 M. Its SE rows fit SE without FC biases for Faster and Mask
# R-CNN, with them for RetinaNet; our SE configs have them (SENet's form).
PAPER_DETECTOR_PARAMS = {
    'faster-rcnn_sa-r50_fpn_1x_coco': 41.53,
    'faster-rcnn_sa-r101_fpn_1x_coco': 60.53,
    'mask-rcnn_sa-r50_fpn_1x_coco': 44.18,
    'mask-rcnn_sa-r101_fpn_1x_coco': 63.17,
    'retinanet_sa-r50_fpn_1x_coco': 37.74,
    'retinanet_sa-r101_fpn_1x_coco': 56.64,
    'retinanet_r101_fpn_1x_coco': 56.74,
    'faster-rcnn_se-r50_fpn_1x_coco': 44.02,
    'faster-rcnn_se-r101_fpn_1x_coco': 65.24,
    'mask-rcnn_se-r50_fpn_1x_coco': 46.67,
    'mask-rcnn_se-r101_fpn_1x_coco': 67.89,
    'retinanet_se-r50_fpn_1x_coco': 40.25,
    'retinanet_se-r101_fpn_1x_coco': 61.49,
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
        paper_digits (int): Decimals the paper printed its figures with (3
            in Table 1, 2 in Table 3). Defaults to 3.
    """

    model: str
    input: str
    params: int
    paper_params: Optional[float]
    paper_gflops: Optional[float]
    complexity: Complexity
    paper_digits: int = 3


def classifier_rows(
    depths: Sequence[int] = (50, 101),
    size: int = 224,
    attentions: Optional[Sequence[str]] = None,
) -> List[ComplexityRow]:
    """ResNet and its attention variants as classifiers, as in the paper's Table 1.

    Args:
        depths (Sequence[int]): ResNet depths. Defaults to (50, 101).
        size (int): Input side. Paper figures are given only for 224.
            Defaults to 224.
        attentions (Sequence[str], optional): Keys of
            :data:`CLASSIFIER_ATTENTIONS` (``'SE'``, ``'CBAM'``, ``'SGE'``,
            ``'ECA'``, ``'SA'``). None means all of them.

    Returns:
        list[ComplexityRow]: For each depth the plain ResNet, then the
        attention networks in Table 1's order.
    """
    keys = list(CLASSIFIER_ATTENTIONS) if attentions is None else list(attentions)
    unknown = [key for key in keys if key not in CLASSIFIER_ATTENTIONS]
    if unknown:
        raise KeyError(f'unknown attentions {unknown}; choose from {list(CLASSIFIER_ATTENTIONS)}')
    rows = []
    for depth in depths:
        variants = [(f'ResNet-{depth}', dict(sa=False))]
        for key in CLASSIFIER_ATTENTIONS:
            if key in keys:
                pattern, attention = CLASSIFIER_ATTENTIONS[key]
                kwargs = dict(sa=True) if attention is None else dict(attention=attention)
                variants.append((pattern.format(depth), kwargs))
        for name, kwargs in variants:
            complexity = classifier_complexity(depth, size=size, **kwargs)
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


def baseline_detector_rows(
    names: Optional[Sequence[str]] = None, size: Sequence[int] = (1280, 800)
) -> List[ComplexityRow]:
    """The baseline detectors (SE, ECA, SGE), as in the paper's Tables 3 and 4.

    Their plain-ResNet and SA twins are the rows of :func:`detector_rows`.

    Args:
        names (Sequence[str], optional): Config names (with or without
            ``.py``) of :data:`BASELINE_DETECTORS`. None means all ten.
        size (Sequence[int]): ``(width, height)`` of the input. Defaults to
            (1280, 800).

    Returns:
        list[ComplexityRow]: One row per config, read from the configs
        installed with the package.
    """
    names = list(BASELINE_DETECTORS) if names is None else [n.replace('.py', '') for n in names]
    unknown = [name for name in names if name not in BASELINE_DETECTORS]
    if unknown:
        raise KeyError(
            f'unknown baseline detector configs {unknown}; choose from {list(BASELINE_DETECTORS)}'
        )
    return config_rows([f'sa_mmdet::attention_baselines/{name}.py' for name in names], size)


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
                name,
                input_desc,
                complexity.trainable_params,
                paper_params,
                None,
                complexity,
                paper_digits=2,
            )
        )
    return rows
