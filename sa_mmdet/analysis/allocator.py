"""Steady-state host memory for CPU benchmarks: glibc's malloc keeps what it frees.

By default glibc serves allocations above its mmap threshold (128 KiB, raised
up to 32 MiB as large blocks are freed) with fresh ``mmap`` pages and returns
freed memory to the system, so a tensor allocated in every call (an output, a
gradient) may page-fault on every page it writes. On the 2-core development
VM a plain copy of a 131 MB tensor then runs at 4 GB/s instead of 30 GB/s,
and which calls pay depends on the history of the process: figures moved by
2-5x between identical runs. :func:`keep_freed_memory` switches both off for
this process, so that every variant is timed with memory it has touched
before, as in a training loop that has warmed up.
"""

import ctypes
import ctypes.util

# mallopt(3) parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Make glibc's malloc serve every allocation from its heap and never give it back.

    Affects the whole process, for its lifetime; meant for benchmark tools.

    Returns:
        bool: True if set, False where the C library is not glibc.
    """
    libc_name = ctypes.util.find_library('c')
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name)
    mallopt = getattr(libc, 'mallopt', None)
    if mallopt is None or not hasattr(libc, 'gnu_get_libc_version'):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # no mmap'ed blocks; trim only above 2 GiB - 1 (the largest int)
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
