from .atomic_local_backend import AtomicLocalBackend
from .random_state_hook import RandomStateHook
from .resume_check import check_resume, verify_checkpoint
from .safe_checkpoint_hook import SafeCheckpointHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'AtomicLocalBackend',
    'RandomStateHook',
    'SafeCheckpointHook',
    'WeightsOnlyCheckpointHook',
    'check_resume',
    'verify_checkpoint',
]
