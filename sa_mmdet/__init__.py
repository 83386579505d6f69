"""sa_mmdet: Shuffle Attention (SA-Net) for MMDetection.

``import sa_mmdet`` (or ``custom_imports=dict(imports=['sa_mmdet'])``)
registers the models and nothing else: ``ShuffleAttention``,
``FoldedShuffleAttention`` and ``SAResNet`` in mmdet's ``MODELS`` and the
``SANetPretrained`` weight initializer, with the Shuffle Attention operator
(``torch.ops.sa_mmdet.*``) they run on. Engine helpers
(:mod:`sa_mmdet.engine`), datasets (:mod:`sa_mmdet.datasets`), mmpretrain
support (:mod:`sa_mmdet.pretrain`), deployment (:mod:`sa_mmdet.deploy`) and
analysis (:mod:`sa_mmdet.analysis`) are imported only when asked for.
"""
from .models import FoldedShuffleAttention, SANetPretrainedInit, SAResNet, ShuffleAttention
from .version import __version__

__all__ = [
    'FoldedShuffleAttention', 'SANetPretrainedInit', 'SAResNet', 'ShuffleAttention',
    '__version__'
]
