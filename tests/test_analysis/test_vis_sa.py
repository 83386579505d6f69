"""SA gate maps of a detector and the vis_sa.py tool, on tiny images."""

from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch

from analysis_lib import build_model_from_config, load_config
from analysis_lib.sa_gates import find_sa_layers
from analysis_lib.sa_maps import _on_image, last_sa_layer_per_stage, sa_gate_maps

SA_CONFIG = (
    Path(__file__).resolve().parents[2] / 'configs/sa_resnet/faster-rcnn_sa-r50_fpn_1x_coco.py'
)
LAST_OF_STAGES = [
    'backbone.layer1.2.sa',
    'backbone.layer2.3.sa',
    'backbone.layer3.5.sa',
    'backbone.layer4.2.sa',
]


def small_config(tmp_path):
    """The SA Faster R-CNN config with a 64-pixel test pipeline, written to a file."""
    path = tmp_path / 'small.py'
    path.write_text(
        f"_base_ = '{SA_CONFIG}'\n"
        "test_pipeline = [dict(type='LoadImageFromFile'),\n"
        "                 dict(type='Resize', scale=(64, 64), keep_ratio=True),\n"
        "                 dict(type='PackDetInputs')]\n"
        'test_dataloader = dict(dataset=dict(pipeline=test_pipeline))\n'
    )
    return str(path)


@pytest.fixture(scope='module')
def detector(tmp_path_factory, randomize_sa):
    cfg = load_config(small_config(tmp_path_factory.mktemp('cfg')))
    torch.manual_seed(0)
    model = build_model_from_config(cfg)
    model.cfg = cfg
    sa = find_sa_layers(model)['backbone.layer4.2.sa']
    randomize_sa(sa, torch.Generator().manual_seed(0))
    return model


def test_maps_of_the_last_layer_of_each_stage(detector):
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)

    assert last_sa_layer_per_stage(detector) == LAST_OF_STAGES
    maps = sa_gate_maps(detector, image)
    assert [m.name for m in maps] == LAST_OF_STAGES
    assert [m.channels for m in maps] == [256, 512, 1024, 2048]
    # 48x64 resized to 48x64 (keep ratio in 64x64), padded to 64x64: stride-4 map is 16x16.
    assert maps[0].feature_size == (16, 16)
    for m in maps:
        assert m.spatial.shape == (64, 48, 64)
        assert m.channel.shape == (64, m.channels // 128)
    # Layers at their initialisation gate everything by sigmoid(1); the randomised one does not.
    sigmoid_one = torch.sigmoid(torch.tensor(1.0)).item()
    np.testing.assert_allclose(maps[0].spatial, sigmoid_one, rtol=1e-5)
    np.testing.assert_allclose(maps[0].channel, sigmoid_one, rtol=1e-5)
    assert np.abs(maps[3].spatial - sigmoid_one).max() > 0.01
    assert np.abs(maps[3].channel - sigmoid_one).max() > 0.01
    assert 0 < maps[3].spatial.min() and maps[3].spatial.max() < 1


def test_maps_drop_the_padding():
    # The bottom half of the feature map covers padding (valid height 1/2): it is cut off.
    maps = torch.cat([torch.zeros(2, 2, 4), torch.ones(2, 2, 4)], dim=1)
    on_image = _on_image(maps, valid=(0.5, 1.0), size=(6, 8))
    assert on_image.shape == (2, 6, 8)
    assert np.all(on_image == 0)


def test_layer_names_are_checked(detector):
    image = np.zeros((32, 32, 3), np.uint8)
    # Names must be SA layers of the model ...
    with pytest.raises(KeyError, match='backbone.layer1.0.sa'):
        sa_gate_maps(detector, image, ['backbone.layer1.0.conv1'])
    # ... and the model must have SA layers at all.
    plain = build_model_from_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    with pytest.raises(ValueError, match='SAResNet'):
        sa_gate_maps(plain, image)


def sa_checkpoint(model, path):
    """A small checkpoint holding only the (randomised) layer4.2 SA weights."""
    prefix = 'backbone.layer4.2.sa.'
    state = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    torch.save({'state_dict': state}, path)
    return state


def test_build_model_from_config_loads_the_checkpoint(detector, tmp_path):
    checkpoint = str(tmp_path / 'epoch_1.pth')
    state = sa_checkpoint(detector, checkpoint)
    assert len(state) == 6
    loaded = build_model_from_config(detector.cfg, checkpoint).state_dict()
    for name, value in state.items():
        torch.testing.assert_close(loaded[name], value, msg=name)


def test_tool_writes_a_png_per_image(detector, tmp_path, import_tool):
    tool = import_tool('tools/analysis_tools/vis_sa.py')
    config = small_config(tmp_path)
    work_dir = tmp_path / 'work_dir'
    work_dir.mkdir()
    checkpoint = str(work_dir / 'epoch_1.pth')
    sa_checkpoint(detector, checkpoint)

    image = str(tmp_path / 'shapes.jpg')
    mmcv.imwrite(tool.demo_image(64), image)
    written = tool.main(
        [
            '--config',
            config,
            '--checkpoint',
            checkpoint,
            '--img',
            image,
            '--layers',
            'backbone.layer4.2.sa',
            '--out-dir',
            str(tmp_path / 'out'),
        ]
    )
    assert written == [str(tmp_path / 'out' / 'sa_gates_shapes.png')]
    assert mmcv.imread(written[0]).shape[2] == 3
    # Missing configs are named with the fix.
    with pytest.raises(FileNotFoundError, match='--config'):
        tool.main(['--config', str(tmp_path / 'missing.py')])
