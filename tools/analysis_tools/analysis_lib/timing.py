"""Time calls on a CPU or a GPU, and name the processor the times come from."""

import platform
import statistics
import time
from typing import Callable, Dict, List

import torch


class Timer:
    """Times calls on a device: CUDA events on a GPU, a host clock on the CPU.

    Args:
        device (torch.device): Where the timed calls run.
        clock (str): Host clock on the CPU: ``'wall'`` (elapsed) or ``'process'`` (CPU time of
            this process, for one thread on a shared machine). Defaults to ``'wall'``.
    """

    def __init__(self, device: torch.device, clock: str = 'wall') -> None:
        if clock not in ('wall', 'process'):
            raise ValueError(f"clock must be 'wall' or 'process', got {clock!r}")
        self.cuda = device.type == 'cuda'
        self.clock = time.process_time if clock == 'process' else time.perf_counter

    def __call__(self, fn: Callable[[], object]) -> float:
        """Seconds one call of ``fn`` takes."""
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        start = self.clock()
        fn()
        return self.clock() - start


def time_interleaved(
    fns: Dict[str, Callable[[], object]], timer: Timer, repeats: int, warmup: int
) -> Dict[str, float]:
    """Median seconds per call of each function, the functions run in turn.

    Running them in turn makes drifts of a shared machine's load hit them alike.

    Args:
        fns (dict[str, callable]): The functions to time, by name.
        timer (Timer): Times one call.
        repeats (int): Timed calls of each function.
        warmup (int): Untimed calls of each function before those.

    Returns:
        dict[str, float]: Median seconds per call, by name.
    """
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for step in range(warmup + repeats):
        for name, fn in fns.items():
            seconds = timer(fn)
            if step >= warmup:
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def describe_device(device: torch.device) -> str:
    """The processor figures come from: the GPU's name, or the CPU's with its vector extensions.

    Args:
        device (torch.device): The device the figures are measured on.

    Returns:
        str: E.g. ``'NVIDIA H200, 132 SMs, 140 GiB'`` or ``'<CPU model>, vector extensions:
        avx2, avx512f (torch kernels use AVX512)'``.
    """
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        return (
            f'{props.name}, {props.multi_processor_count} SMs, {props.total_memory / 2**30:.0f} GiB'
        )
    model = platform.processor() or 'CPU'
    try:
        with open('/proc/cpuinfo') as f:
            lines = f.read().splitlines()
        model = next(
            line.split(':', 1)[1].strip() for line in lines if line.startswith('model name')
        )
        flags = next(line.split(':', 1)[1] for line in lines if line.startswith('flags')).split()
        extensions = [
            name for name in ('avx2', 'avx512f', 'avx512_bf16', 'amx_tile') if name in flags
        ]
    except (OSError, StopIteration):
        extensions = []
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        f'{model}, vector extensions: {", ".join(extensions) or "none found"} '
        f'(torch kernels use {capability})'
    )
