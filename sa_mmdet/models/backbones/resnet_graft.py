"""Graft attention into a pretrained plain ResNet so that its function is unchanged.

At the inits below every attention layer is a constant gate times a channel
order, ``A(y) = g * y[:, order]``. Re-indexing conv3's filters and bn3 by
``order``'s inverse and dividing bn3's weight and bias by ``g`` then gives
``A(bn3'(conv3'(h))) = bn3(conv3(h))``, in eval and in train mode (batch
statistics follow the channels). SA at its official init and SGE at its init
gate by sigmoid(1) (SA also shuffles); SE, ECA and CBAM with the layer before
each sigmoid zeroed gate by 0.5 (CBAM twice). The gates' gradients are not
zero, so every attention parameter learns from the second step on.
"""

from typing import Callable, Dict, NamedTuple, Optional, Type

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import (
    CBAM,
    EfficientChannelAttention,
    ShuffleAttention,
    SpatialGroupEnhance,
    SqueezeExcitation,
)
from ..layers.shuffle_attention import channel_shuffle


class ConstantGate(NamedTuple):
    """An attention layer as ``gate * y[:, order]`` (``order`` None: the identity)."""

    gate: float
    order: Optional[Tensor] = None


_SIGMOID_1 = torch.sigmoid(torch.tensor(1.0, dtype=torch.float64)).item()


def _zero(*tensors: Optional[Tensor]) -> None:
    for tensor in tensors:
        if tensor is not None:
            tensor.zero_()


def _shuffle_attention(layer: ShuffleAttention) -> ConstantGate:
    _zero(layer.cweight, layer.sweight)
    layer.cbias.fill_(1)
    layer.sbias.fill_(1)
    order = channel_shuffle(torch.arange(layer.in_channels).view(1, -1, 1, 1), 2).flatten()
    return ConstantGate(_SIGMOID_1, order)


def _squeeze_excitation(layer: SqueezeExcitation) -> ConstantGate:
    _zero(layer.conv2.conv.weight, layer.conv2.conv.bias)
    return ConstantGate(0.5)


def _efficient_channel_attention(layer: EfficientChannelAttention) -> ConstantGate:
    _zero(layer.conv.weight)
    return ConstantGate(0.5)


def _spatial_group_enhance(layer: SpatialGroupEnhance) -> ConstantGate:
    _zero(layer.weight)
    layer.bias.fill_(1)
    return ConstantGate(_SIGMOID_1)


def _cbam(layer: CBAM) -> ConstantGate:
    norm = layer.spatial_conv.norm if layer.spatial_conv.with_norm else None
    if norm is None or norm.weight is None:
        raise ValueError(
            'CBAM without an affine spatial norm has no constant-gate init; use a checkpoint '
            'that carries its weights.'
        )
    _zero(layer.channel_mlp[2].weight, layer.channel_mlp[2].bias, norm.weight, norm.bias)
    return ConstantGate(0.25)


CONSTANT_GATE_INITS: Dict[Type[nn.Module], Callable[[nn.Module], ConstantGate]] = {
    ShuffleAttention: _shuffle_attention,
    SqueezeExcitation: _squeeze_excitation,
    EfficientChannelAttention: _efficient_channel_attention,
    SpatialGroupEnhance: _spatial_group_enhance,
    CBAM: _cbam,
}


def conv3_index(order: Tensor) -> Tensor:
    """Which plain conv3 filter each grafted filter takes: the inverse of ``order``."""
    return torch.argsort(order)


@torch.no_grad()
def graft_attention(block: nn.Module, attention: nn.Module) -> ConstantGate:
    """Make ``block`` with ``attention`` after bn3 compute what it did without.

    Args:
        block (nn.Module): An mmdet ``Bottleneck`` with plain pretrained
            weights; its ``conv3`` and ``norm3`` are changed in place.
        attention (nn.Module): Its attention layer, set to a constant gate.

    Returns:
        ConstantGate: The gate and channel order the block now undoes.

    Raises:
        ValueError: For an attention type without a constant-gate init, or a
            channel order with a norm3 that is not a BatchNorm.
    """
    init = CONSTANT_GATE_INITS.get(type(attention))
    if init is None:
        raise ValueError(
            f'no exact graft of a plain ResNet is known for {type(attention).__name__} '
            f'(known: {", ".join(t.__name__ for t in CONSTANT_GATE_INITS)}); load a checkpoint '
            'that carries its weights instead.'
        )
    constant = init(attention)
    norm3 = block.norm3
    if norm3.weight is None:
        raise ValueError(f'bn3 {type(norm3).__name__} has no affine weight to absorb the gate.')
    if constant.order is not None:
        if not isinstance(norm3, _BatchNorm):
            raise ValueError(
                f'{type(attention).__name__} reorders channels, which a {type(norm3).__name__} '
                'after conv3 cannot follow (its groups would mix); graft into a backbone with '
                "BatchNorm (norm_cfg=dict(type='BN'))."
            )
        index = conv3_index(constant.order).to(norm3.weight.device)
        conv3 = block.conv3.weight
        for tensor in (conv3, norm3.weight, norm3.bias, norm3.running_mean, norm3.running_var):
            if tensor is not None:
                tensor.copy_(tensor[index])
    norm3.weight.div_(constant.gate)
    norm3.bias.div_(constant.gate)
    return constant
