"""Our complexity figures next to the SA-Net paper's (arXiv 2102.00240).

Paper figures are only those confirmed: Table 1 (classifiers at 224x224) and Table 3's detector
parameter counts (1280x800, trainable only); anything else is None ("n/a"), never estimated.
"""

import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .builder import build_model_from_config
from .complexity import Complexity, classifier_complexity, detector_complexity

# Paper Table 1 (ImageNet, 224x224): name -> (params in M, GFLOPs), printed with 3 decimals.
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

# Table 1's attention networks, in its order: key -> (name pattern, AttentionResNet's attention;
# None for SAResNet).
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

# The baseline detector configs (configs/attention_baselines/): Tables 3 (SE) and 4 (Mask R-CNN).
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

# Paper Table 3 parameter counts (M, trainable only), printed with 2 decimals (see the notes of
# tools/analysis_tools/complexity.py on its misprint and its SE rows).
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
        params (int): Parameters compared with the paper's: all (classifiers) or trainable ones.
        paper_params (float, optional): The paper's figure in M, None if unknown.
        paper_gflops (float, optional): The paper's GFLOPs, None if unknown.
        complexity (Complexity): Everything measured.
        paper_digits (int): Decimals of the paper's figures (3 in Table 1, 2 in Table 3).
    """

    model: str
    input: str
    params: int
    paper_params: Optional[float]
    paper_gflops: Optional[float]
    complexity: Complexity
    paper_digits: int = 3


def _checked(names: Optional[Sequence[str]], known: Sequence[str], what: str) -> List[str]:
    """``names`` without ``.py`` (None: all of ``known``), each one of ``known``."""
    names = list(known) if names is None else [name.replace('.py', '') for name in names]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f'unknown {what} {unknown}; choose from {list(known)}')
    return names


def classifier_rows(
    depths: Sequence[int] = (50, 101),
    size: int = 224,
    attentions: Optional[Sequence[str]] = None,
) -> List[ComplexityRow]:
    """ResNet and its attention variants as classifiers, as in the paper's Table 1.

    Args:
        depths (Sequence[int]): ResNet depths. Defaults to (50, 101).
        size (int): Input side; paper figures exist for 224 only. Defaults to 224.
        attentions (Sequence[str], optional): Keys of :data:`CLASSIFIER_ATTENTIONS`. None means
            all of them.

    Returns:
        list[ComplexityRow]: For each depth the plain ResNet, then the attention networks in
        Table 1's order.
    """
    keys = _checked(attentions, CLASSIFIER_ATTENTIONS, 'attentions')
    rows = []
    for depth in depths:
        variants = [(f'ResNet-{depth}', dict(sa=False))]
        for key, (pattern, attention) in CLASSIFIER_ATTENTIONS.items():
            if key in keys:
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
        names (Sequence[str], optional): Keys of :data:`DETECTOR_PAIRS`, with or without
            ``.py``. None means all six.

    Returns:
        list[tuple[str, str]]: ``('sa_mmdet::sa_resnet/NAME.py', twin_config)`` pairs.
    """
    names = _checked(names, DETECTOR_PAIRS, 'detector configs')
    return [(f'sa_mmdet::sa_resnet/{name}.py', DETECTOR_PAIRS[name]) for name in names]


def detector_rows(
    names: Optional[Sequence[str]] = None, size: Sequence[int] = (1280, 800)
) -> List[ComplexityRow]:
    """SA detectors next to their plain-ResNet twins, as in the paper's Table 3.

    Args:
        names (Sequence[str], optional): SA config names, see :func:`detector_pairs`.
        size (Sequence[int]): ``(width, height)`` of the input. Defaults to (1280, 800).

    Returns:
        list[ComplexityRow]: The twin then the SA detector for each name.
    """
    configs = [config for pair in detector_pairs(names) for config in pair[::-1]]
    return config_rows(configs, size)


def baseline_detector_rows(
    names: Optional[Sequence[str]] = None, size: Sequence[int] = (1280, 800)
) -> List[ComplexityRow]:
    """The baseline detectors (SE, ECA, SGE), as in the paper's Tables 3 and 4.

    Args:
        names (Sequence[str], optional): Names of :data:`BASELINE_DETECTORS`, with or without
            ``.py``. None means all ten.
        size (Sequence[int]): ``(width, height)`` of the input. Defaults to (1280, 800).

    Returns:
        list[ComplexityRow]: One row per config.
    """
    names = _checked(names, BASELINE_DETECTORS, 'baseline detector configs')
    return config_rows([f'sa_mmdet::attention_baselines/{name}.py' for name in names], size)


def config_rows(configs: Sequence[str], size: Sequence[int] = (1280, 800)) -> List[ComplexityRow]:
    """Any detector configs, with the paper's parameter count where it has one (at 1280x800).

    Args:
        configs (Sequence[str]): Config paths or ``package::path`` names.
        size (Sequence[int]): ``(width, height)`` of the input. Defaults to (1280, 800).

    Returns:
        list[ComplexityRow]: One row per config, with its trainable parameters.
    """
    rows = []
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        complexity = detector_complexity(build_model_from_config(config), size)
        paper_params = PAPER_DETECTOR_PARAMS.get(name) if tuple(size) == (1280, 800) else None
        rois = complexity.extra.get('rois')
        input_desc = '{}x{}'.format(*size) + (f', {rois} RoIs' if rois else '')
        params = complexity.trainable_params
        rows.append(ComplexityRow(name, input_desc, params, paper_params, None, complexity, 2))
    return rows
