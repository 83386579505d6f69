"""Engine helpers, opt-in: ``custom_imports=dict(imports=['sa_mmdet', 'sa_mmdet.engine'])``.

Registers :class:`WeightsOnlyCheckpointHook` (checkpoints that torch's
weights-only loading reads), :class:`RandomStateHook` (bit-exact
``--resume``), :class:`SafeCheckpointHook` (checkpoints written atomically, a
checked ``--resume``), the file backend ``'atomic_local'`` it writes with, and
:class:`CPUAwareRunner` (distributed training without CUDA). Importing it
patches nothing.
"""

from .hooks import RandomStateHook, SafeCheckpointHook, WeightsOnlyCheckpointHook
from .legacy_checkpoint import load_legacy_checkpoint, resave_checkpoint
from .runner import CPUAwareDistributedDataParallel, CPUAwareRunner, init_cpu_process_group
from .weights_only import from_weights_only, to_weights_only

__all__ = [
    'CPUAwareDistributedDataParallel',
    'CPUAwareRunner',
    'RandomStateHook',
    'SafeCheckpointHook',
    'WeightsOnlyCheckpointHook',
    'from_weights_only',
    'init_cpu_process_group',
    'load_legacy_checkpoint',
    'resave_checkpoint',
    'to_weights_only',
]
