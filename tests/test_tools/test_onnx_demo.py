"""tools/deployment/onnx_demo.py: preprocesses an image as mmdet's test pipeline and data
preprocessor do, paints the end2end graph's detections, imports neither torch nor mmdet,
and names what is wrong with a file that is not an image."""

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = 'tools/deployment/onnx_demo.py'
CONFIG = str(REPO / 'configs/toy/mask-rcnn_sa-r50_fpn_8e_toy-shapes.py')


@pytest.fixture(scope='module')
def exported(tmp_path_factory, import_tool):
    """A toy Mask R-CNN (seeded random init) exported end2end, its JSON and a toy image."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    tmp = tmp_path_factory.mktemp('onnx_demo')
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    state = MODELS.build(cfg.model).state_dict()
    torch.save({'state_dict': state, 'meta': {'dataset_meta': dict(cfg.metainfo)}}, tmp / 'm.pth')
    tool = import_tool('tools/deployment/pytorch2onnx.py')
    image = tool.toy_image(tmp / 'toy.jpg', seed=3)
    args = [CONFIG, str(tmp / 'm.pth'), str(tmp / 'm.onnx'), '--end2end', '--dynamic']
    assert tool.main(args + ['--exporter', 'legacy', '--img', image]) == 0
    return tool, tmp / 'm.onnx', image


def test_preprocessing_equals_mmdet(exported, import_tool):
    import json

    tool, onnx_path, image = exported
    demo = import_tool(DEMO)
    meta = json.loads(onnx_path.with_suffix('.json').read_text())
    model = tool.load_detector(CONFIG, str(onnx_path.with_name('m.pth')))
    want, metas = tool.preprocess(model, image)  # mmdet's test pipeline and data preprocessor
    got, scale = demo.preprocess(demo.read_image(image), meta)
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(scale, metas[0]['scale_factor'], rtol=1e-6)


def test_demo_paints_detections_without_torch_or_mmdet(exported, tmp_path, run_python):
    _, onnx_path, image = exported
    out = tmp_path / 'out.jpg'
    result = run_python(DEMO, onnx_path, image, out, '--score-thr', '0.2')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith(f'detections above 0.2 painted into {out}')
    assert int(lines[-1].split()[0]) > 0 and out.is_file()
    name = lines[0].split()[0]
    assert name in ('circle', 'square', 'triangle', 'star')  # the class names of the JSON
    code = (
        'import sys; sys.path.insert(0, "tools/deployment"); import onnx_demo; '
        'print(sorted(m for m in ("torch", "mmdet", "mmcv", "mmengine") if m in sys.modules))'
    )
    assert run_python('-c', code).stdout.strip() == '[]'


def test_a_file_that_is_not_an_image_is_named(exported, import_tool, tmp_path):
    _, onnx_path, _ = exported
    text = tmp_path / 'notes.jpg'
    text.write_text('not an image')
    demo = import_tool(DEMO)
    with pytest.raises(ValueError, match='cannot read .*notes.jpg as an image'):
        demo.main([str(onnx_path), str(text), str(tmp_path / 'out.jpg')])
    with pytest.raises(FileNotFoundError, match='no preprocessing file'):
        demo.main([str(onnx_path), str(text), str(tmp_path / 'o.jpg'), '--meta', 'missing.json'])
    assert not (tmp_path / 'out.jpg').exists()
