"""tools/analysis_tools/benchmark_roi_align.py runs end to end (no timing checked)."""

import pytest

from sa_mmdet.ops import sa_ext_available


@pytest.mark.skipif(not sa_ext_available(), reason='sa_mmdet._ext is not built')
@pytest.mark.slow
def test_benchmark_roi_align_prints_both_ops(run_python):
    result = run_python(
        'tools/analysis_tools/benchmark_roi_align.py',
        '--threads',
        '1',
        '--repeats',
        '1',
        '--warmup',
        '0',
        '--cases',
        'toy-bbox',
        'toy-mask',
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 'vector extensions' in lines[0] and 'threads 1' in lines[0]
    assert lines[1].split()[:3] == ['case', 'features,', 'RoIs']
    rows = [line.split() for line in lines[3:]]
    assert [row[0] for row in rows] == ['toy-bbox', 'toy-mask']
    assert all(row[-1].endswith('x') and row[-2].endswith('x') for row in rows)
