from .cpu_distributed import CPUAwareDistributedDataParallel, CPUAwareRunner, init_cpu_process_group

__all__ = ['CPUAwareDistributedDataParallel', 'CPUAwareRunner', 'init_cpu_process_group']
