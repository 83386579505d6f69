from .backbones import AttentionResNet, SAResNet
from .layers import (
    CBAM,
    EfficientChannelAttention,
    ShuffleAttention,
    SpatialGroupEnhance,
    SqueezeExcitation,
)
from .roi_heads import FastSingleRoIExtractor
from .weight_init import SANetPretrainedInit

__all__ = [
    'AttentionResNet',
    'CBAM',
    'EfficientChannelAttention',
    'FastSingleRoIExtractor',
    'SANetPretrainedInit',
    'SAResNet',
    'ShuffleAttention',
    'SpatialGroupEnhance',
    'SqueezeExcitation',
]
