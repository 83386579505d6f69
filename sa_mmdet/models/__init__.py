from .backbones import SAResNet
from .layers import ShuffleAttention

__all__ = ['SAResNet', 'ShuffleAttention']
