"""analysis_lib.allocator: after keep_freed_memory, re-allocated tensors do not page-fault."""

import sys
import textwrap

import pytest

# Allocates and fills a 64 MiB tensor six times and prints the minor page faults of the last
# two fills; with `keep` it first calls keep_freed_memory() (process-wide, hence a child process).
# The heap settles in the first fills: the first two or three each fault every page (which of them
# varies between runs), later ones none.
CHILD = textwrap.dedent(
    """
    import resource, sys
    import torch
    from analysis_lib.allocator import keep_freed_memory
    if sys.argv[1] == 'keep':
        assert keep_freed_memory()
    def fill():
        torch.empty(16 * 2**20).fill_(1.0)
    for _ in range(4):
        fill()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fill(); fill()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _page_faults(run_python, mode: str) -> int:
    result = run_python('-c', CHILD, mode, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc malloc')
def test_keep_freed_memory_stops_page_faults_of_reallocated_tensors(run_python):
    pages = 2 * 64 * 2**20 // 4096  # two fills of 64 MiB
    # glibc maps a 64 MiB block afresh every time: every page faults again
    assert _page_faults(run_python, 'default') >= pages // 2
    # kept on the heap: the last fills write pages touched before
    assert _page_faults(run_python, 'keep') < pages // 20
