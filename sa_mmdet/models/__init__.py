from .backbones import SAResNet
from .layers import FoldedShuffleAttention, ShuffleAttention
from .weight_init import SANetPretrainedInit

__all__ = ['FoldedShuffleAttention', 'SANetPretrainedInit', 'SAResNet', 'ShuffleAttention']
