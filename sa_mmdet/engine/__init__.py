from .cpu_distributed import (CPUAwareDistributedDataParallel, CPUAwareRunner,
                              init_cpu_process_group)
from .random_state_hook import RandomStateHook

__all__ = [
    'CPUAwareDistributedDataParallel', 'CPUAwareRunner', 'init_cpu_process_group',
    'RandomStateHook'
]
