"""Engine helpers, opt-in: ``custom_imports=dict(imports=['sa_mmdet', 'sa_mmdet.engine'])``.

Registers checkpoint hooks (weights-only, atomic, checked ``--resume``, random
state), the ``'atomic_local'`` file backend and a runner that trains
distributed without CUDA. Importing it patches nothing.
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
