from .backbones import AttentionResNet, SAResNet
from .layers import (
    CBAM,
    EfficientChannelAttention,
    FoldedShuffleAttention,
    ShuffleAttention,
    SpatialGroupEnhance,
    SqueezeExcitation,
)
from .weight_init import SANetPretrainedInit

__all__ = [
    'AttentionResNet',
    'CBAM',
    'EfficientChannelAttention',
    'FoldedShuffleAttention',
    'SANetPretrainedInit',
    'SAResNet',
    'ShuffleAttention',
    'SpatialGroupEnhance',
    'SqueezeExcitation',
]
