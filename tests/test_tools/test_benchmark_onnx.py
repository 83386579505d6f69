"""tools/analysis_tools/benchmark_onnx.py runs end to end on a tiny input (no timing checked)."""

import pytest


@pytest.mark.slow
def test_benchmark_onnx_prints_the_two_graphs(run_python):
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
    assert list(rows) == ['ResNet-50', 'SA-R50']
    # the shuffle of each of the 16 SA layers is a Transpose
    assert [row[-1] for row in rows.values()] == ['0', '16']
    assert rows['ResNet-50'][-3] == '-' and rows['SA-R50'][-3].endswith('%')


def test_end2end_prints_eager_and_onnxruntime_per_detector_and_size(import_tool, repo, capsys):
    tool = import_tool('tools/analysis_tools/benchmark_onnx.py')
    assert [p.split('/')[-1].split('_')[0] for p in tool.DETECTORS] == [
        'faster-rcnn',
        'mask-rcnn',
        'retinanet',
    ]
    config = str(repo / 'configs/toy/retinanet_sa-r50_fpn_8e_toy-shapes.py')
    args = ['--end2end', '--configs', config, '--sizes', '64,64', '32,96', '--threads', '1']
    seconds = tool.main(args + ['--repeats', '1', '--warmup', '0'])
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith('detector'))
    assert lines[header - 1].startswith('PyTorch eager and onnxruntime CPU, ')
    assert 'vector extensions' in lines[header - 1] and 'threads: 1' in lines[header - 1]
    assert lines[header].split() == [
        'detector', 'H', 'x', 'W', 'mmdet', 'predict', 'ms', 'End2End', 'eager', 'ms',
        'onnxruntime', 'ms',
    ]  # fmt: skip
    rows = [line.split() for line in lines[header + 2 :]]
    name = 'retinanet_sa-r50_fpn_8e_toy-shapes'
    assert [row[:2] for row in rows] == [[name, '64x64'], [name, '32x96']]
    assert list(seconds) == [(name, (64, 64)), (name, (32, 96))]
    for times in seconds.values():
        assert list(times) == ['mmdet predict', 'End2EndDetector', 'onnxruntime']
        assert all(t > 0 for t in times.values())
