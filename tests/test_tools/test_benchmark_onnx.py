"""tools/analysis_tools/benchmark_onnx.py runs end to end on a tiny input (no timing checked)."""

import pytest


@pytest.mark.slow
def test_benchmark_onnx_prints_the_three_graphs(run_python):
    result = run_python(
        'tools/analysis_tools/benchmark_onnx.py',
        '--input',
        '1,3,64,96',
        '--threads',
        '1',
        '--repeats',
        '1',
        '--warmup',
        '0',
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('onnxruntime CPU, ') and 'vector extensions' in lines[0]
    assert 'input 1x3x64x96' in lines[0]
    assert lines[1].split() == ['graph', 'median', 'ms', 'overhead', 'ONNX', 'nodes', 'Transpose']
    rows = {line.rsplit(None, 4)[0].strip(): line.split() for line in lines[3:]}
    assert list(rows) == ['ResNet-50', 'SA-R50', 'SA-R50 folded']
    # the shuffle of each of the 16 SA layers is a Transpose, folded away in the folded graph
    assert [row[-1] for row in rows.values()] == ['0', '16', '0']
    assert rows['ResNet-50'][-3] == '-' and rows['SA-R50'][-3].endswith('%')
