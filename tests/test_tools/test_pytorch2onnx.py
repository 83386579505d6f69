"""tools/deployment/pytorch2onnx.py: exports a toy SA Faster R-CNN checkpoint, checks it in
onnxruntime and exits 0, or 1 above the tolerance; bad arguments exit 2."""

from pathlib import Path

import pytest

from sa_mmdet.deploy import onnx_dims

REPO = Path(__file__).resolve().parents[2]
TOOL = 'tools/deployment/pytorch2onnx.py'
CONFIG = str(REPO / 'configs/toy/faster-rcnn_sa-r50_fpn_8e_toy-shapes.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, import_tool) -> str:
    work_dir = tmp_path_factory.mktemp('toy_faster_rcnn')
    return str(import_tool('tests/data/toy_checkpoint.py').make_toy_checkpoint(CONFIG, work_dir))


@pytest.mark.slow
def test_dynamic_folded_export_matches(checkpoint, tmp_path, run_python):
    out = tmp_path / 'faster-rcnn.onnx'
    args = ['--dynamic', '--fold', '--exporter', 'legacy']
    result = run_python(TOOL, CONFIG, checkpoint, out, *args, timeout=900)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # a random batch at another size and the toy image, each with the detector's proposals
    assert any(line.startswith('random: inputs (2, 3, 160, 192), (') for line in lines)
    assert any(line.startswith('image (toy): inputs (1, 3, 128, 128), (') for line in lines)
    histogram = next(line for line in lines if line.startswith('op histogram:'))
    assert "'Sigmoid': 16" in histogram and "'RoiAlign': 4" in histogram
    assert "'Transpose'" not in histogram  # folded: no shuffle
    assert lines[-1] == 'OK: onnxruntime matches PyTorch within 0.0001 (relative).'
    assert onnx_dims(out) == {
        'input': ['batch', 3, 'height', 'width'],
        'rois': ['num_rois', 5],
    }


@pytest.mark.slow
def test_static_export_above_tolerance_exits_1(checkpoint, tmp_path, run_python):
    out = tmp_path / 'faster-rcnn.onnx'
    args = ['--shape', '96', '128', '--exporter', 'legacy', '--tolerance', '0']
    result = run_python(TOOL, CONFIG, checkpoint, out, *args, timeout=900)
    # no float computation is bit-exact across the two runtimes: a zero tolerance fails
    assert result.returncode == 1, result.stderr
    assert 'FAILED: onnxruntime differs from PyTorch by' in result.stderr
    assert f'do not deploy {out}' in result.stderr
    assert "'Transpose': 16" in result.stdout  # unfolded: the 16 shuffles
    assert onnx_dims(out)['input'] == [1, 3, 96, 128]  # static


def test_bad_arguments_exit_2(import_tool, tmp_path, capsys):
    tool = import_tool(TOOL)
    with pytest.raises(SystemExit) as exit_info:
        tool.main([CONFIG, 'missing.pth', str(tmp_path / 'x.onnx'), '--exporter', 'onnx'])
    assert exit_info.value.code == 2
    assert "invalid choice: 'onnx'" in capsys.readouterr().err


def test_missing_checkpoint_raises(import_tool, tmp_path):
    with pytest.raises(FileNotFoundError):
        import_tool(TOOL).main([CONFIG, str(tmp_path / 'missing.pth'), str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()
