"""Parameters and FLOPs of models with attention layers, by mmengine's counter.

FLOPs come from :class:`mmengine.analysis.FlopAnalyzer` (fvcore's jit-traced
counter: one multiply-add is one FLOP; convolutions, linear layers, BatchNorm
(2 per element in eval mode), GroupNorm (5 per element), upsampling and
adaptive average pooling are counted; elementwise ops such as add, mul,
sigmoid, ReLU, mean and max-pooling are not). Inside an SA layer that means
only its GroupNorm is counted.

The SA-Net paper counted differently (the mmcv 1.x / ptflops convention of
its time, which hooks modules, not functional ops): its ResNet-50 has 4.122
GFLOPs because ReLU outputs and max-pool inputs count one FLOP per element,
and SA costs 2.76e-3 GFLOPs in SA-Net-50, which is exactly one FLOP per
element of the SA halves (the sum of ``C/2 * H * W`` over the 16 SA layers).
Its baselines (Table 1's SE, CBAM, SGE and ECA figures, from the ECA-Net
paper) follow the same rule: an attention layer costs one FLOP per element
its global pooling reads plus its convolutions, linear layers and BatchNorm,
and nothing for GroupNorm, sigmoids, products, CBAM's channel-wise pooling or
SGE's normalisation (see :data:`PAPER_STYLE_RULES`). :func:`measure_complexity`
reports both: the counter's own total, and a paper-style total from the same
trace with ReLU and max-pool counted and each attention layer counted by its
rule instead of by mmengine.
"""

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.backbones import ResNet
from mmdet.structures import DetDataSample
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from torch import Tensor

from ..models import (
    CBAM,
    AttentionResNet,
    EfficientChannelAttention,
    SAResNet,
    SpatialGroupEnhance,
    SqueezeExcitation,
)
from .classifier import ImageNetClassifier
from .sa_gates import find_sa_layers, is_sa_layer


def _numel_counter(key: str, of_output: bool) -> Callable:
    """A FlopAnalyzer handle counting one FLOP per element, under ``key``."""

    def handle(inputs: List[Any], outputs: List[Any]) -> Counter:
        shape = get_shape(outputs[0] if of_output else inputs[0])
        return Counter({key: int(torch.Size(shape).numel())})

    return handle


# Ops mmengine leaves out but the paper's counter counted, one FLOP per element
# of ReLU outputs and max-pool inputs, kept apart from mmengine's own counts by
# the key prefix.
EXTRA = 'extra:'
PAPER_EXTRA_HANDLES = {
    'aten::relu': _numel_counter(EXTRA + 'relu', of_output=True),
    'aten::relu_': _numel_counter(EXTRA + 'relu', of_output=True),
    'aten::max_pool2d': _numel_counter(EXTRA + 'max_pool2d', of_output=False),
}


@dataclass(frozen=True)
class PaperStyleRule:
    """How the paper's counter saw an attention layer.

    Attributes:
        pooled (float): Elements the layer's global pooling reads, per
            element of its input; one FLOP each.
        counted (tuple[str]): mmengine's operator kinds inside the layer that
            the paper's counter also counted (``'conv'``, ``'linear'``,
            ``'batch_norm'``); the layer's other mmengine counts (GroupNorm,
            adaptive pooling, which ``pooled`` replaces) are left out.
    """

    pooled: float
    counted: Tuple[str, ...] = ()


#: The paper-style rule of each attention layer, by class; Shuffle Attention
#: layers are found by their parameters (:func:`~sa_mmdet.analysis.sa_gates.is_sa_layer`).
#: Each reproduces the paper's Table 1 GFLOPs at 224x224 (see docs/complexity.md).
SA_RULE = PaperStyleRule(pooled=0.5)  # GAP of the channel halves; GroupNorm not counted
PAPER_STYLE_RULES = {
    SqueezeExcitation: PaperStyleRule(pooled=1, counted=('conv',)),  # GAP + both FCs
    EfficientChannelAttention: PaperStyleRule(pooled=1),  # GAP; its 1-D conv not counted
    SpatialGroupEnhance: PaperStyleRule(pooled=1),  # GAP; the normalisation not counted
    CBAM: PaperStyleRule(pooled=2, counted=('linear', 'conv', 'batch_norm')),  # avg + max pool
}


def paper_style_rule(module: nn.Module) -> Optional[PaperStyleRule]:
    """The paper-style rule of an attention layer, None for other modules.

    Args:
        module (nn.Module): Any module.

    Returns:
        PaperStyleRule, optional: :data:`SA_RULE` for a Shuffle Attention
        layer, the rule of :data:`PAPER_STYLE_RULES` for a baseline, else None.
    """
    if is_sa_layer(module):
        return SA_RULE
    return next((rule for cls, rule in PAPER_STYLE_RULES.items() if isinstance(module, cls)), None)


def find_attention_layers(model: nn.Module) -> Dict[str, nn.Module]:
    """Every attention layer (SA and the baselines) of a model, by qualified name.

    Args:
        model (nn.Module): A model, e.g. an attention-ResNet or a detector.

    Returns:
        dict[str, nn.Module]: The modules with a :func:`paper_style_rule`.
    """
    return {name: module for name, module in model.named_modules() if paper_style_rule(module)}


def _split(ops: Counter) -> Tuple[int, int]:
    """Split per-op FLOPs into (mmengine's own, extra-handle) totals."""
    extra = sum(v for k, v in ops.items() if k.startswith(EXTRA))
    return sum(ops.values()) - extra, extra


@dataclass
class Complexity:
    """What :func:`measure_complexity` measured.

    Attributes:
        params (int): All parameters.
        trainable_params (int): Parameters with ``requires_grad`` (frozen
            stages excluded), what the paper's detector table counts.
        flops (int): FLOPs as mmengine's ``FlopAnalyzer`` counts them.
        paper_flops (int): FLOPs in the paper's convention (see module doc).
        sa_layers (int): Number of Shuffle Attention layers.
        sa_flops (int): Of ``flops``, those inside SA layers (their GroupNorm).
        sa_half_elements (int): Elements of the SA halves, ``sum C/2 * H * W``
            over SA layers: SA's cost in the paper's convention.
        sa_uncounted_ops (tuple[str]): Ops inside SA layers mmengine does
            not count, e.g. ``('aten::mean', 'aten::mul', 'aten::sigmoid')``.
        attention_layers (int): Number of attention layers of any kind (SA
            and the baselines of :data:`PAPER_STYLE_RULES`).
        attention_flops (int): Of ``flops``, those inside attention layers.
        attention_paper_flops (int): Of ``paper_flops``, those of attention
            layers (for SA alone, ``sa_half_elements``).
        attention_uncounted_ops (tuple[str]): Ops inside attention layers
            mmengine does not count.
        extra (dict): Model-specific facts, e.g. ``{'rois': 1000}``.
    """

    params: int
    trainable_params: int
    flops: int
    paper_flops: int
    sa_layers: int
    sa_flops: int
    sa_half_elements: int
    sa_uncounted_ops: Tuple[str, ...]
    attention_layers: int
    attention_flops: int
    attention_paper_flops: int
    attention_uncounted_ops: Tuple[str, ...]
    extra: Dict[str, int] = field(default_factory=dict)


def measure_complexity(model: nn.Module, inputs: Tuple[Any, ...]) -> Complexity:
    """Count a model's parameters and FLOPs for one forward pass.

    SA layers are traced in their ``'reference'`` implementation (the
    paper's operations), since the counter cannot see inside the fast path's
    custom operator; both compute the same function. Attention layers (SA
    and the baselines) are counted twice: by mmengine, and by their
    :data:`PAPER_STYLE_RULES` for ``paper_flops``.

    Args:
        model (nn.Module): The model, called as ``model(*inputs)``.
        inputs (tuple): Its inputs, e.g. ``(torch.randn(1, 3, 224, 224), )``.

    Returns:
        Complexity: Parameter and FLOP counts, with the attention layers' share.
    """
    sa_layers = find_sa_layers(model)
    attention_layers = find_attention_layers(model)
    input_elements: Dict[str, int] = {}

    def record_input_elements(name: str) -> Callable:

        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            input_elements[name] = int(args[0].numel())

        return hook

    hooks = [
        layer.register_forward_hook(record_input_elements(name))
        for name, layer in attention_layers.items()
    ]
    implementations = {
        name: getattr(layer, 'implementation', None) for name, layer in sa_layers.items()
    }
    for name, layer in sa_layers.items():
        if implementations[name] is not None:
            layer.implementation = 'reference'
    analyzer = FlopAnalyzer(model, inputs).set_op_handle(**PAPER_EXTRA_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    try:
        flops, extra_flops = _split(analyzer.by_operator())
    finally:
        for hook in hooks:
            hook.remove()
        for name, layer in sa_layers.items():
            if implementations[name] is not None:
                layer.implementation = implementations[name]

    def inside(names) -> Tuple[int, int, Tuple[str, ...]]:
        ops: Counter = Counter()
        uncounted = set()
        for name in names:
            ops.update(analyzer.by_operator(name))
            uncounted.update(analyzer.unsupported_ops(name))
        return (*_split(ops), tuple(sorted(uncounted)))

    sa_flops, _, sa_uncounted = inside(sa_layers)
    attention_flops, attention_extra, attention_uncounted = inside(attention_layers)
    attention_paper_flops = attention_extra  # ReLUs inside the layers
    for name, layer in attention_layers.items():
        rule = paper_style_rule(layer)
        ops = analyzer.by_operator(name)
        pooled = int(rule.pooled * input_elements.get(name, 0))
        attention_paper_flops += pooled + sum(ops.get(kind, 0) for kind in rule.counted)
    return Complexity(
        params=parameter_count(model)[''],
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        flops=flops,
        paper_flops=flops - attention_flops + extra_flops - attention_extra + attention_paper_flops,
        sa_layers=len(sa_layers),
        sa_flops=sa_flops,
        sa_half_elements=sum(input_elements.get(name, 0) for name in sa_layers) // 2,
        sa_uncounted_ops=sa_uncounted,
        attention_layers=len(attention_layers),
        attention_flops=attention_flops,
        attention_paper_flops=attention_paper_flops,
        attention_uncounted_ops=attention_uncounted,
    )


def classifier_complexity(
    depth: int, sa: bool = False, size: int = 224, attention: Optional[dict] = None
) -> Complexity:
    """Complexity of ResNet / attention-ResNet classifiers, as in the paper's Table 1.

    Args:
        depth (int): 50, 101 or 152.
        sa (bool): SA-ResNet (SA-Net) if True. Defaults to False.
        size (int): Side of the square input image. Defaults to 224.
        attention (dict, optional): An :class:`AttentionResNet` with this
            attention, e.g. ``dict(type='SqueezeExcitation')``, instead; None
            and ``sa=False`` mean mmdet's ResNet. Defaults to None.

    Returns:
        Complexity: Counts for one ``size`` x ``size`` image.
    """
    if sa and attention is not None:
        raise ValueError(
            f'classifier_complexity takes sa=True (SAResNet) or an attention config '
            f'(AttentionResNet), not both; got sa=True, attention={attention!r}. For SA in '
            f"AttentionResNet pass attention=dict(type='ShuffleAttention') alone."
        )
    if attention is not None:
        backbone = AttentionResNet(depth=depth, attention=attention, out_indices=(3,))
    else:
        backbone = (SAResNet if sa else ResNet)(depth=depth, out_indices=(3,))
    model = ImageNetClassifier(backbone)
    model.eval()
    return measure_complexity(model, (torch.randn(1, 3, size, size),))


def detector_complexity(model: nn.Module, size: Sequence[int] = (1280, 800)) -> Complexity:
    """Complexity of an mmdet detector for one padded image, as mmdet measures it.

    Calls the detector in ``tensor`` mode (``_forward``: backbone, neck and
    heads, no post-processing) as mmdet's ``tools/analysis_tools/get_flops.py``
    does. Two-stage detectors are set to keep exactly ``max_per_img`` RPN
    proposals (NMS off), so the RoI head sees a fixed number of RoIs
    (``extra['rois']``; 1000 in the COCO configs, as mmdet 2.x's dummy forward
    used) whatever the weights; the mask head runs on the first 100.

    Args:
        model (nn.Module): A detector from :func:`build_model_from_config`.
        size (Sequence[int]): ``(width, height)`` of the input. Defaults to
            (1280, 800), the paper's setting.

    Returns:
        Complexity: Counts for one image.
    """
    width, height = size
    shape = (height, width)
    sample = DetDataSample(
        metainfo=dict(
            img_shape=shape,
            ori_shape=shape,
            pad_shape=shape,
            batch_input_shape=shape,
            scale_factor=(1.0, 1.0),
        )
    )
    rois: List[int] = []
    hooks = []
    rpn_head = getattr(model, 'rpn_head', None)
    if rpn_head is not None:
        rpn_nms = rpn_head.test_cfg.nms
        iou_threshold, rpn_nms.iou_threshold = rpn_nms.iou_threshold, 1.0
        hooks.append(
            model.roi_head.bbox_roi_extractor.register_forward_pre_hook(
                lambda module, args: rois.append(int(args[1].shape[0]))
            )
        )
    forward = model.forward
    model.forward = partial(forward, data_samples=[sample], mode='tensor')
    try:
        result = measure_complexity(model, (torch.randn(1, 3, height, width),))
    finally:
        model.forward = forward
        if rpn_head is not None:
            rpn_nms.iou_threshold = iou_threshold
        for hook in hooks:
            hook.remove()
    if rois:
        result.extra['rois'] = rois[-1]
    return result
