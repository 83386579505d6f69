"""Steady-state host memory for CPU benchmarks: glibc's malloc keeps what it frees.

By default glibc maps large blocks afresh and returns freed memory to the system, so a tensor
allocated in every call may page-fault on every page it writes, by an amount that depends on the
process's history (see docs/performance.md). :func:`keep_freed_memory` times every variant with
memory touched before, as in a training loop that has warmed up.
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
