from .sa_resnet import SAResNet

__all__ = ['SAResNet']
