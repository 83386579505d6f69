from ...ops import sa_gate_params
from .cbam import CBAM
from .eca_layer import EfficientChannelAttention, eca_kernel_size
from .se_layer import SqueezeExcitation
from .sge_layer import SpatialGroupEnhance
from .shuffle_attention import ShuffleAttention, channel_shuffle

__all__ = [
    'CBAM',
    'EfficientChannelAttention',
    'ShuffleAttention',
    'SpatialGroupEnhance',
    'SqueezeExcitation',
    'channel_shuffle',
    'eca_kernel_size',
    'sa_gate_params',
]
