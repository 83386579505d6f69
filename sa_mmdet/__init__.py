"""sa_mmdet: Shuffle Attention (SA-Net) for MMDetection.

Importing the package registers ``ShuffleAttention`` and ``SAResNet`` in
mmdet's ``MODELS`` registry and makes mmengine checkpoints load with torch's
weights-only unpickler (see :mod:`sa_mmdet.utils.safe_checkpoint`).
"""
from . import datasets, engine  # noqa: F401  (registers datasets, runner)
from .deploy import fold_shuffle_attention
from .models import FoldedShuffleAttention, SAResNet, ShuffleAttention
from .utils import enable_safe_checkpoints
from .version import __version__

enable_safe_checkpoints()

__all__ = [
    'FoldedShuffleAttention', 'SAResNet', 'ShuffleAttention', 'fold_shuffle_attention',
    '__version__'
]
