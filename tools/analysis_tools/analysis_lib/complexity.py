"""Parameters and FLOPs of models with attention layers, by mmengine's counter.

:class:`mmengine.analysis.FlopAnalyzer` (one multiply-add is one FLOP) counts convolutions, linear
layers, norms, upsampling and adaptive pooling, not elementwise ops or max-pooling. The SA-Net
paper's counter (mmcv 1.x / ptflops, module hooks) also counted ReLU outputs and max-pool inputs,
and each attention layer by the rules of :data:`PAPER_STYLE_RULES`; :func:`measure_complexity`
reports both totals from one trace (see docs/complexity.md).
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

from sa_mmdet.models import (
    CBAM,
    AttentionResNet,
    EfficientChannelAttention,
    SAResNet,
    SpatialGroupEnhance,
    SqueezeExcitation,
)

from .classifier import ImageNetClassifier
from .sa_gates import find_sa_layers, is_sa_layer


def _numel_handle(key: str) -> Callable:
    """A FlopAnalyzer handle counting one FLOP per element of the op's input, under ``key``."""
    return lambda inputs, outputs: Counter({key: int(torch.Size(get_shape(inputs[0])).numel())})


# What the paper's counter counted (ReLU outputs, max-pool inputs) and mmengine does not, kept
# apart by the key prefix.
EXTRA = 'extra:'
PAPER_EXTRA_HANDLES = {
    'aten::relu': _numel_handle(EXTRA + 'relu'),
    'aten::relu_': _numel_handle(EXTRA + 'relu'),
    'aten::max_pool2d': _numel_handle(EXTRA + 'max_pool2d'),
}


@dataclass(frozen=True)
class PaperStyleRule:
    """How the paper's counter saw an attention layer.

    Attributes:
        pooled (float): FLOPs of the layer's global pooling per element of its input.
        counted (tuple[str]): mmengine's operator kinds inside the layer the paper also counted
            (``'conv'``, ``'linear'``, ``'batch_norm'``); its other mmengine counts are left out.
    """

    pooled: float
    counted: Tuple[str, ...] = ()


#: Each rule reproduces the paper's Table 1 GFLOPs at 224x224. SA layers are found by their
#: parameters (:func:`~analysis_lib.sa_gates.is_sa_layer`), the baselines by class.
SA_RULE = PaperStyleRule(pooled=0.5)  # GAP of the channel halves; GroupNorm not counted
PAPER_STYLE_RULES = {
    SqueezeExcitation: PaperStyleRule(pooled=1, counted=('conv',)),  # GAP + both FCs
    EfficientChannelAttention: PaperStyleRule(pooled=1),  # GAP; its 1-D conv not counted
    SpatialGroupEnhance: PaperStyleRule(pooled=1),  # GAP; the normalisation not counted
    CBAM: PaperStyleRule(pooled=2, counted=('linear', 'conv', 'batch_norm')),  # avg + max pool
}


def paper_style_rule(module: nn.Module) -> Optional[PaperStyleRule]:
    """The paper-style rule of an attention layer (SA or a baseline), None for other modules."""
    if is_sa_layer(module):
        return SA_RULE
    return next((rule for cls, rule in PAPER_STYLE_RULES.items() if isinstance(module, cls)), None)


def _split(ops: Counter) -> Tuple[int, int]:
    """Split per-op FLOPs into (mmengine's own, extra-handle) totals."""
    extra = sum(v for k, v in ops.items() if k.startswith(EXTRA))
    return sum(ops.values()) - extra, extra


@dataclass
class Complexity:
    """What :func:`measure_complexity` measured.

    Attributes:
        params (int): All parameters.
        trainable_params (int): Parameters with ``requires_grad``, as the paper's detectors count.
        flops (int): FLOPs as mmengine's ``FlopAnalyzer`` counts them.
        paper_flops (int): FLOPs in the paper's convention (see the module docstring).
        sa_layers (int): Number of Shuffle Attention layers.
        sa_flops (int): Of ``flops``, those inside SA layers (their GroupNorm).
        sa_half_elements (int): ``sum C/2 * H * W`` over SA layers, SA's paper-style cost.
        sa_uncounted_ops (tuple[str]): Ops inside SA layers mmengine does not count.
        attention_layers (int): Number of attention layers of any kind (SA and baselines).
        attention_flops (int): Of ``flops``, those inside attention layers.
        attention_paper_flops (int): Of ``paper_flops``, those of attention layers.
        attention_uncounted_ops (tuple[str]): Ops inside attention layers mmengine does not count.
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

    SA layers are traced in their ``'reference'`` implementation, since the counter cannot see
    inside the custom operator; both compute the same function.

    Args:
        model (nn.Module): The model, called as ``model(*inputs)``.
        inputs (tuple): Its inputs, e.g. ``(torch.randn(1, 3, 224, 224), )``.

    Returns:
        Complexity: Parameter and FLOP counts, with the attention layers' share.
    """
    sa_layers = find_sa_layers(model)
    attention_layers = {name: m for name, m in model.named_modules() if paper_style_rule(m)}
    input_elements: Dict[str, int] = {}
    hooks = [
        layer.register_forward_pre_hook(
            lambda module, args, name=name: input_elements.update({name: int(args[0].numel())})
        )
        for name, layer in attention_layers.items()
    ]
    implementations = {
        name: layer.implementation
        for name, layer in sa_layers.items()
        if getattr(layer, 'implementation', None) is not None
    }
    for name in implementations:
        sa_layers[name].implementation = 'reference'
    analyzer = FlopAnalyzer(model, inputs).set_op_handle(**PAPER_EXTRA_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    try:
        flops, extra_flops = _split(analyzer.by_operator())
    finally:
        for hook in hooks:
            hook.remove()
        for name, implementation in implementations.items():
            sa_layers[name].implementation = implementation

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
        attention (dict, optional): Build an :class:`AttentionResNet` with this attention, e.g.
            ``dict(type='SqueezeExcitation')``, instead. Defaults to None.

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

    The detector runs in ``tensor`` mode (no post-processing) as mmdet's ``get_flops.py`` does.
    Two-stage detectors keep exactly ``max_per_img`` RPN proposals (RPN NMS off), so the RoI head
    sees a fixed number of RoIs (``extra['rois']``) whatever the weights.

    Args:
        model (nn.Module): A detector from :func:`build_model_from_config`.
        size (Sequence[int]): ``(width, height)`` of the input. Defaults to (1280, 800), the
            paper's setting.

    Returns:
        Complexity: Counts for one image.
    """
    width, height = size
    meta = dict.fromkeys(
        ('img_shape', 'ori_shape', 'pad_shape', 'batch_input_shape'), (height, width)
    )
    sample = DetDataSample(metainfo=dict(meta, scale_factor=(1.0, 1.0)))
    rois: List[int] = []
    hooks = []
    rpn_head = getattr(model, 'rpn_head', None)
    if rpn_head is not None:
        rpn_nms = rpn_head.test_cfg.nms
        iou_threshold, rpn_nms.iou_threshold = rpn_nms.iou_threshold, 1.0
        extractor = model.roi_head.bbox_roi_extractor
        hooks.append(
            extractor.register_forward_pre_hook(lambda _, args: rois.append(int(args[1].shape[0])))
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
