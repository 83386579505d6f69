"""tools/deployment/pytorch2onnx.py: exports a toy SA Faster R-CNN checkpoint, checks it in
onnxruntime and exits 0, or 1 above the tolerance; bad arguments exit 2."""

import json
import re
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
def test_dynamic_export_matches(checkpoint, tmp_path, run_python):
    out = tmp_path / 'faster-rcnn.onnx'
    args = ['--dynamic', '--exporter', 'legacy']
    result = run_python(TOOL, CONFIG, checkpoint, out, *args, timeout=900)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # a random batch at another size and the toy image, each with the detector's proposals
    assert any(line.startswith('random: inputs (2, 3, 160, 192), (') for line in lines)
    assert any(line.startswith('image (toy): inputs (1, 3, 128, 128), (') for line in lines)
    histogram = next(line for line in lines if line.startswith('op histogram:'))
    assert "'Sigmoid': 16" in histogram and "'RoiAlign': 4" in histogram
    assert "'Transpose': 16" in histogram  # the 16 shuffles
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
    assert "'Transpose': 16" in result.stdout
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


# --end2end: the whole detector, NMS inside ------------------------------------------------------


def random_checkpoint(config: str, path: Path) -> str:
    """A seeded random-init checkpoint of ``config`` (its heads detect things on the toy
    image), written in a second instead of trained."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    state = MODELS.build(cfg.model).state_dict()
    meta = {'dataset_meta': dict(cfg.get('metainfo', {}))}
    torch.save({'state_dict': state, 'meta': meta}, path)
    return str(path)


MASK_CONFIG = str(REPO / 'configs/toy/mask-rcnn_sa-r50_fpn_8e_toy-shapes.py')


def test_end2end_dynamic_export_checks_two_batch_and_image_sizes(import_tool, tmp_path, capsys):
    checkpoint = random_checkpoint(MASK_CONFIG, tmp_path / 'mask-rcnn.pth')
    out = tmp_path / 'mask-rcnn.onnx'
    args = [MASK_CONFIG, checkpoint, str(out), '--end2end', '--dynamic', '--exporter', 'legacy']
    assert import_tool(TOOL).main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    # the toy image, then it and its mirror at another size, with the same detections
    assert any(
        line.startswith('image (toy): input (1, 3, 128, 128), 100 detections') for line in lines
    )
    assert any(
        line.startswith('image and mirror: input (2, 3, 160, 192), 200 detections')
        for line in lines
    )
    assert all(' 0 unmatched' in line for line in lines if line.startswith('image'))
    assert "'NonMaxSuppression': 2" in next(
        line for line in lines if line.startswith('op histogram')
    )
    assert lines[-1] == 'OK: onnxruntime finds the detections of PyTorch within 0.0001.'
    assert onnx_dims(out) == {'input': ['batch', 3, 'height', 'width']}
    meta = json.loads(out.with_suffix('.json').read_text())
    assert meta['outputs'] == ['dets', 'labels', 'masks']
    assert meta['mean'] == [123.675, 116.28, 103.53] and meta['to_rgb'] is True
    assert meta['resize'] == {'scale': [128, 128], 'keep_ratio': True}
    assert meta['pad_size_divisor'] == 32 and meta['classes'][0] == 'circle'


def test_checkpoint_of_another_config_raises_before_writing(import_tool, tmp_path):
    # a Faster R-CNN checkpoint lacks the mask head of the Mask R-CNN config
    checkpoint = random_checkpoint(CONFIG, tmp_path / 'faster-rcnn.pth')
    out = tmp_path / 'mask-rcnn.onnx'
    with pytest.raises(
        ValueError, match='(?s)does not fit .*missing keys.*mask_head.*the config the checkpoint'
    ):
        import_tool(TOOL).main([MASK_CONFIG, checkpoint, str(out), '--end2end'])
    assert not out.exists() and not out.with_suffix('.json').exists()


@pytest.mark.slow
def test_end2end_dynamo_is_the_default_and_exports_retinanet(import_tool, tmp_path, capsys):
    config = str(REPO / 'configs/toy/retinanet_sa-r50_fpn_8e_toy-shapes.py')
    checkpoint = random_checkpoint(config, tmp_path / 'retinanet.pth')
    out = tmp_path / 'retinanet.onnx'
    assert import_tool(TOOL).main([config, checkpoint, str(out), '--end2end', '--dynamic']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith('end2end (dynamo) to ' + str(out))
    # eager's detections at the export size and at another batch and image size
    checked = [line for line in lines if line.startswith('image')]
    assert [line.split(',')[0] for line in checked] == [
        'image (toy): input (1',
        'image and mirror: input (2',
    ]
    counts = [int(re.search(r'(\d+) detections', line).group(1)) for line in checked]
    assert counts[0] > 0 and counts[1] == 2 * counts[0], checked
    assert all(' 0 unmatched' in line for line in checked), checked
    assert lines[-1] == 'OK: onnxruntime finds the detections of PyTorch within 0.0001.'
    assert onnx_dims(out) == {'input': ['batch', 3, 'height', 'width']}


def test_end2end_of_an_unsupported_detector_raises_before_writing(import_tool, tmp_path):
    # a cascade's RoI head is not StandardRoIHead: named, and no ONNX or JSON written
    import mmdet

    mim = Path(mmdet.__file__).parent / '.mim' / 'configs'
    config = str(mim / 'cascade_rcnn' / 'cascade-rcnn_r50_fpn_1x_coco.py')
    checkpoint = random_checkpoint(config, tmp_path / 'cascade.pth')
    out = tmp_path / 'cascade.onnx'
    with pytest.raises(NotImplementedError, match='StandardRoIHead, but got CascadeRoIHead'):
        import_tool(TOOL).main([config, checkpoint, str(out), '--end2end'])
    assert not out.exists() and not out.with_suffix('.json').exists()
