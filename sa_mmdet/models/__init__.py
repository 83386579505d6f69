from .backbones import SAResNet
from .layers import FoldedShuffleAttention, ShuffleAttention

__all__ = ['FoldedShuffleAttention', 'SAResNet', 'ShuffleAttention']
