"""sa_mmdet: Shuffle Attention (SA-Net) for MMDetection.

``import sa_mmdet`` (or ``custom_imports=dict(imports=['sa_mmdet'])``) registers
the models (the Shuffle Attention layer and ``SAResNet``, the baseline
attention layers and ``AttentionResNet``, ``SANetPretrained``) and the operator
``torch.ops.sa_mmdet.*``, nothing else: :mod:`sa_mmdet.engine`,
:mod:`sa_mmdet.datasets`, :mod:`sa_mmdet.pretrain` and :mod:`sa_mmdet.deploy` are
imported only when asked for. The libraries of the tools live beside the tools:
``tools/analysis_tools/analysis_lib`` and the toy data generators of ``tools/dataset_converters``.
"""

from . import models
from .models import *  # noqa: F403
from .version import __version__

# the RoI extractor is registered for configs, not part of the top-level API
__all__ = [name for name in models.__all__ if name != 'FastSingleRoIExtractor']
__all__ += ['__version__']
