from .attention_resnet import AttentionResNet
from .sa_resnet import SAResNet

__all__ = ['AttentionResNet', 'SAResNet']
