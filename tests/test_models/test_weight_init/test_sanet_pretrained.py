"""SA-Net checkpoints load into SAResNet: the SANetPretrained initializer and the converter."""

import os
import re
import runpy
from pathlib import Path

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

import sa_mmdet.models.backbones.resnet_checkpoint as resnet_checkpoint
from sa_mmdet.models import SAResNet
from sa_mmdet.models.backbones import ResNetCheckpointError, checkpoint_state_dict
from sa_mmdet.models.weight_init import (
    SANetPretrainedInit,
    convert_sanet_state_dict,
    sanet_checkpoint_arch,
)
from sa_mmdet.utils import CheckpointFileError

REPO = Path(__file__).resolve().parents[3]
CONVERTER = REPO / 'tools/model_converters/sanet2mmdet.py'


def layout_state(depth=50, sa_groups=64):
    """An SAResNet state dict of zeros that costs one float per tensor on disk."""
    with torch.device('meta'):
        layout = SAResNet(depth, sa_groups).state_dict()
    return {k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in layout.items()}


@pytest.fixture(scope='module')
def official(official_sa_resnet):
    return official_sa_resnet.randomize(official_sa_resnet.OfficialSAResNet(depth=50)).eval()


@pytest.fixture(scope='module')
def official_file(official, official_sa_resnet, tmp_path_factory):
    path = tmp_path_factory.mktemp('official') / 'sa_resnet50.pth.tar'
    official_sa_resnet.save_official_checkpoint(official, str(path))
    return path


@pytest.fixture(scope='module')
def image():
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def assert_same_stage_outputs(model, official, image):
    model.eval()
    with torch.no_grad():
        outs, expected = model(image), official.forward_stages(image)
    assert len(outs) == 4
    for out, exp in zip(outs, expected):
        assert out.shape == exp.shape
        torch.testing.assert_close(out, exp, rtol=1e-5, atol=1e-5)


def pretrained(checkpoint, **kwargs):
    init_cfg = dict(type='SANetPretrained', checkpoint=str(checkpoint), **kwargs)
    return SAResNet(depth=50, init_cfg=init_cfg)


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(resnet_checkpoint, 'print_log', lambda msg, **kwargs: messages.append(msg))
    return messages


def test_init_cfg_loads_official_checkpoint(official, official_file, image, logged):
    model = pretrained(official_file)
    model.init_weights()
    assert logged == [
        f'Loaded attention ResNet-50 from {official_file} into SAResNet: 414 keys checked; '
        "left over: ['fc.weight', 'fc.bias']"
    ]
    assert_same_stage_outputs(model, official, image)


def test_pretrained_loads_an_official_checkpoint_as_it_is(official, official_file, image):
    # type='Pretrained' on an SAResNet checks every key too: module. stripped, fc left over
    model = SAResNet(depth=50, init_cfg=dict(type='Pretrained', checkpoint=str(official_file)))
    model.init_weights()
    assert_same_stage_outputs(model, official, image)


def test_converter_cli_output_loads_with_init_cfg(
    official, official_file, image, tmp_path, run_converter
):
    dst = tmp_path / 'converted' / 'sa_resnet50.pth'
    result = run_converter(official_file, dst)
    assert result.returncode == 0, result.stderr
    assert 'SA-ResNet-50 (sa_groups=64): 414 keys' in result.stdout
    assert "left over (not saved): ['fc.weight', 'fc.bias']" in result.stdout
    saved = torch.load(dst)
    assert saved['meta'] == dict(depth=50, sa_groups=64, source='sa_resnet50.pth.tar')
    assert list(saved['state_dict']) == list(SAResNet(depth=50).state_dict())
    model = pretrained(dst)
    model.init_weights()
    assert_same_stage_outputs(model, official, image)


def test_convert_function_strips_module_and_drops_fc(official):
    state = {f'module.{k}': v for k, v in official.state_dict().items()}
    assert sanet_checkpoint_arch(state) == (50, 64)
    conversion = convert_sanet_state_dict(state)
    assert (conversion.depth, conversion.sa_groups) == (50, 64)
    assert conversion.leftovers == ['fc.weight', 'fc.bias']
    assert list(conversion.state_dict) == list(SAResNet(depth=50).state_dict())
    for key, value in conversion.state_dict.items():
        assert value is state[f'module.{key}']


@pytest.mark.parametrize('depth,sa_groups', [(101, 64), (152, 32)])
def test_detects_depth_and_groups(depth, sa_groups):
    assert sanet_checkpoint_arch(layout_state(depth, sa_groups)) == (depth, sa_groups)
    conversion = convert_sanet_state_dict(layout_state(depth, sa_groups))
    assert (conversion.depth, conversion.sa_groups, conversion.leftovers) == (depth, sa_groups, [])


def test_missing_num_batches_tracked_is_filled():
    # Rule: BatchNorm counters are not weights; old torch did not save them.
    state = {k: v for k, v in layout_state().items() if not k.endswith('num_batches_tracked')}
    converted = convert_sanet_state_dict(state).state_dict
    assert converted['layer1.0.bn1.num_batches_tracked'].item() == 0
    assert converted.keys() == layout_state().keys()


def test_whole_model_checkpoints_use_backbone_keys(official, image, tmp_path):
    # mmpretrain classifiers and mmdet detectors save backbone.*, neck.*, head.*.
    state = {
        f'backbone.{k}': v for k, v in official.state_dict().items() if not k.startswith('fc.')
    }
    state.update({'head.fc.weight': official.fc.weight, 'neck.conv.weight': torch.ones(1)})
    conversion = convert_sanet_state_dict(state)
    assert conversion.leftovers == ['head.fc.weight', 'neck.conv.weight']
    path = tmp_path / 'detector.pth'
    torch.save({'meta': {'epoch': 12}, 'state_dict': state}, path)
    model = pretrained(path)
    model.init_weights()
    assert_same_stage_outputs(model, official, image)
    # mmengine's convention for loading a backbone out of a whole model.
    model = SAResNet(depth=50)
    assert SANetPretrainedInit(str(path), prefix='backbone')(model).leftovers == []
    assert_same_stage_outputs(model, official, image)


def test_prefix_without_matching_keys_raises(official_file):
    # Rule: a prefix must select something (here: official keys are module.*).
    with pytest.raises(ResNetCheckpointError, match=r"prefix='backbone\.'.*init_cfg\.prefix"):
        SANetPretrainedInit(str(official_file), prefix='backbone.')(SAResNet(depth=50))


def test_initializer_is_for_sa_resnets(official_file):
    # Rule: SANetPretrained fills an SAResNet; other modules take type='Pretrained'.
    with pytest.raises(TypeError, match='Pretrained'):
        SANetPretrainedInit(str(official_file))(ResNet(depth=50))


def test_other_init_cfg_entries_still_run(official, official_file, image):
    model = SAResNet(
        depth=50,
        init_cfg=[
            dict(type='Constant', layer='Conv2d', val=0.5),
            dict(type='SANetPretrained', checkpoint=str(official_file)),
        ],
    )
    model.init_weights()
    assert model.is_init
    assert_same_stage_outputs(model, official, image)


def test_extra_plugins_keep_their_init(official_file, logged):
    model = SAResNet(
        depth=50,
        init_cfg=dict(type='SANetPretrained', checkpoint=str(official_file)),
        plugins=[
            dict(
                cfg=dict(type='ContextBlock', ratio=1.0 / 16),
                position='after_conv3',
                stages=(False, False, False, True),
            )
        ],
    )
    model.init_weights()
    assert "kept their init: ['layer4.0.context_block.conv_mask.weight'" in logged[0]


@pytest.mark.parametrize(
    'kwargs,message',
    [
        # Rule: the model must have the checkpoint's depth ...
        (dict(depth=101), r'depth mismatch: .* a ResNet-50, but the model is a depth=101'),
        # ... SA groups ...
        (
            dict(depth=50, sa_groups=32),
            r'shape mismatch .*: layer1\.0\.sa\.cweight: \(1, 2, 1, 1\)',
        ),
        # ... and SA stages.
        (
            dict(depth=50, sa_stages=(False, True, True, True)),
            r'checkpoint keys are not in the model',
        ),
    ],
)
def test_model_that_does_not_fit_raises(official_file, kwargs, message):
    model = SAResNet(init_cfg=dict(type='SANetPretrained', checkpoint=str(official_file)), **kwargs)
    with pytest.raises(ResNetCheckpointError, match=message):
        model.init_weights()


def test_missing_checkpoint_says_where_to_get_it(tmp_path):
    # Rule: a missing file names the official release, the converter and pretraining.
    model = pretrained(tmp_path / 'sa_resnet50.pth.tar')
    with pytest.raises(FileNotFoundError) as info:
        model.init_weights()
    message = str(info.value)
    for part in (
        'sa_resnet50.pth.tar',
        'github.com/wofmanaf/SA-Net',
        'tools/model_converters/sanet2mmdet.py',
        'configs/imagenet/sa-resnet50_8xb32_in1k.py',
    ):
        assert part in message


@pytest.mark.parametrize(
    'config',
    sorted(p for p in (REPO / 'configs' / 'sa_resnet').glob('*.py') if '-tv-pre_' not in p.name),
    ids=lambda path: path.stem,
)
def test_coco_configs_without_weights_say_where_to_get_them(config, tmp_path, monkeypatch):
    cfg = Config.fromfile(config)
    checkpoint = cfg.model.backbone.init_cfg.checkpoint
    assert checkpoint == f'checkpoints/sa_resnet{cfg.model.backbone.depth}.pth.tar'
    monkeypatch.chdir(tmp_path)
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
    with pytest.raises(FileNotFoundError, match=f"'{checkpoint}' not found.*wofmanaf/SA-Net"):
        detector.init_weights()


def plain_resnet_state():
    return {k: v for k, v in layout_state().items() if '.sa.' not in k}


def unknown_depth_state():
    return {k: v for k, v in layout_state().items() if not k.startswith('layer3.5.')}


def wrong_shape_state():
    state = layout_state()
    state['layer2.0.conv2.weight'] = torch.zeros(()).expand(128, 128, 1, 1)
    return state


def partly_sa_state():
    return {k: v for k, v in layout_state().items() if not k.startswith('layer4.2.sa.')}


ERROR_CASES = {
    # Rule: SA-Net checkpoints have layerX.Y.sa.* in every bottleneck.
    'plain_resnet': (plain_resnet_state, [], r'missing SA keys: .* plain ResNet-50.*Pretrained'),
    'partly_sa': (
        partly_sa_state,
        [],
        r"missing keys \(the attention keys of only some layers\): 6 .*\['layer4\.2\.sa\.cweight'",
    ),
    # Rule: blocks per stage must be those of depth 50, 101 or 152.
    'unknown_depth': (
        unknown_depth_state,
        [],
        r'unknown depth: the checkpoint has \(3, 4, 5, 3\) blocks',
    ),
    # Rule: --depth must match the checkpoint.
    'depth_mismatch': (
        layout_state,
        ['--depth', '101'],
        'depth mismatch: .* a ResNet-50, but the model is a depth=101',
    ),
    # Rule: every tensor has SAResNet's shape.
    'wrong_shape': (
        wrong_shape_state,
        [],
        r'shape mismatch .* layer2\.0\.conv2\.weight: '
        r'\(128, 128, 1, 1\) != \(128, 128, 3, 3\)',
    ),
}


@pytest.mark.parametrize('case', sorted(ERROR_CASES))
def test_convert_function_rejects(case):
    make_state, args, message = ERROR_CASES[case]
    depth = int(args[1]) if args else 50
    with pytest.raises(ResNetCheckpointError, match=message):
        convert_sanet_state_dict(make_state(), depth)


def save_as_official(state, path):
    torch.save({'epoch': 1, 'state_dict': {f'module.{k}': v for k, v in state.items()}}, path)


@pytest.mark.parametrize('case', ['plain_resnet', 'depth_mismatch', 'wrong_shape'])
def test_converter_cli_rejects(case, tmp_path):
    # in this process; test_converter_cli_exits_1_without_a_traceback runs the command
    make_state, args, message = ERROR_CASES[case]
    src, dst = tmp_path / 'src.pth.tar', tmp_path / 'dst.pth'
    save_as_official(make_state(), src)
    with pytest.raises(SystemExit, match='is not a usable SA-ResNet checkpoint') as error:
        converter_main(src, dst, *args)
    assert re.search(message, str(error.value)), error.value
    assert not dst.exists()


def converter_main(*args):
    """The CLI's ``main`` in this process (cheaper than a subprocess)."""
    return runpy.run_path(str(CONVERTER), run_name='sanet2mmdet')['main'](list(map(str, args)))


def test_converter_main_rejects_unknown_depth_and_missing_source(tmp_path):
    src = tmp_path / 'src.pth.tar'
    save_as_official(unknown_depth_state(), src)
    with pytest.raises(SystemExit, match=r'is not a usable SA-ResNet checkpoint: unknown depth'):
        converter_main(src, tmp_path / 'dst.pth')
    with pytest.raises(SystemExit, match=r"nope\.pth\.tar' does not exist"):
        converter_main(tmp_path / 'nope.pth.tar', tmp_path / 'dst.pth')
    assert not (tmp_path / 'dst.pth').exists()


def test_plain_mmdet_resnet_is_not_sa_net():
    # Rule: a real mmdet/torchvision ResNet-50 state dict lacks SA keys.
    with pytest.raises(ResNetCheckpointError, match='missing SA keys'):
        convert_sanet_state_dict(ResNet(depth=50).state_dict())


@pytest.mark.parametrize('checkpoint', [{'epoch': 3}, [torch.ones(1)], {'state_dict': {}}])
def test_not_a_state_dict_raises(checkpoint):
    with pytest.raises(ResNetCheckpointError, match='not a checkpoint of model weights'):
        checkpoint_state_dict(checkpoint)


class RunsShell:
    def __reduce__(self):
        return (os.system, ('touch pwned_by_checkpoint',))


def test_converter_never_runs_code_from_the_file(tmp_path, run_converter):
    src = tmp_path / 'evil.pth.tar'
    torch.save({'state_dict': layout_state(), 'arch': RunsShell()}, src)
    result = run_converter(src, tmp_path / 'dst.pth')
    assert result.returncode == 1
    assert (
        'with weights_only=True (it needs posix.system); nothing in the file was run'
        in result.stderr
    )
    for cwd in (tmp_path, REPO):
        assert not (cwd / 'pwned_by_checkpoint').exists()


def test_init_cfg_names_an_unreadable_checkpoint(unreadable_checkpoint):
    path, words = unreadable_checkpoint
    with pytest.raises(CheckpointFileError, match=words) as error:
        pretrained(path).init_weights()
    assert str(path) in str(error.value)


def test_converter_names_an_unreadable_source(unreadable_checkpoint, tmp_path):
    path, words = unreadable_checkpoint
    with pytest.raises(SystemExit, match=f'^error: .*{re.escape(str(path))}.*{words}'):
        converter_main(path, tmp_path / 'dst.pth')
    assert not (tmp_path / 'dst.pth').exists()


def test_converter_cli_exits_1_without_a_traceback(tmp_path, run_converter):
    src = tmp_path / 'src.pth.tar'
    src.write_bytes(b'')
    result = run_converter(src, tmp_path / 'dst.pth')
    assert result.returncode == 1
    assert result.stderr.startswith('error: ') and 'Traceback' not in result.stderr


def test_converter_never_writes_over_its_source(official_file, tmp_path, same_file_as):
    src = tmp_path / official_file.name
    src.write_bytes(official_file.read_bytes())
    with pytest.raises(SystemExit, match='is the input'):
        converter_main(src, same_file_as(src))
    assert src.read_bytes() == official_file.read_bytes()


def test_converter_output_folder_and_foreign_file_are_refused(official_file, tmp_path):
    with pytest.raises(SystemExit, match='is a folder: give a file name in it'):
        converter_main(official_file, tmp_path)
    foreign = tmp_path / 'notes.pth'
    foreign.write_text('my notes')
    with pytest.raises(SystemExit, match='exists and is not a checkpoint this tool wrote'):
        converter_main(official_file, foreign)
    assert foreign.read_text() == 'my notes'
    # its own output is replaced on a re-run
    dst = tmp_path / 'converted.pth'
    converter_main(official_file, dst)
    converter_main(official_file, dst)
    assert torch.load(dst)['meta']['source'] == official_file.name
