"""sa_mmdet: Shuffle Attention (SA-Net) for MMDetection.

``import sa_mmdet`` (or ``custom_imports=dict(imports=['sa_mmdet'])``)
registers the models and nothing else: in mmdet's ``MODELS`` the Shuffle
Attention layers and ``SAResNet``, the paper's baseline attention layers (SE,
ECA, SGE, CBAM) and ``AttentionResNet``; the ``SANetPretrained`` weight
initializer; and the Shuffle Attention operator (``torch.ops.sa_mmdet.*``)
the layers run on. Engine helpers
(:mod:`sa_mmdet.engine`), datasets (:mod:`sa_mmdet.datasets`), mmpretrain
support (:mod:`sa_mmdet.pretrain`), deployment (:mod:`sa_mmdet.deploy`) and
analysis (:mod:`sa_mmdet.analysis`) are imported only when asked for.
"""

from .models import (
    CBAM,
    AttentionResNet,
    EfficientChannelAttention,
    SANetPretrainedInit,
    SAResNet,
    ShuffleAttention,
    SpatialGroupEnhance,
    SqueezeExcitation,
)
from .version import __version__

__all__ = [
    'AttentionResNet',
    'CBAM',
    'EfficientChannelAttention',
    'SANetPretrainedInit',
    'SAResNet',
    'ShuffleAttention',
    'SpatialGroupEnhance',
    'SqueezeExcitation',
    '__version__',
]
