"""A plain ResNet checkpoint turns SAResNet and every AttentionResNet into that same ResNet.

The reference is mmdet's plain ``ResNet`` with random weights and random BatchNorm
statistics, saved as torchvision and as mmdet save it; the attention backbones load it
through mmdet's standard ``init_cfg=dict(type='Pretrained', ...)``.
"""

import copy
import pickle
from pathlib import Path

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint

import sa_mmdet.models.backbones.resnet_graft as resnet_graft
from sa_mmdet.models import AttentionResNet, SAResNet
from sa_mmdet.models.backbones import ResNetCheckpointError

REPO = Path(__file__).resolve().parents[3]
ATTENTIONS = {
    'SA': None,
    'SE': dict(type='SqueezeExcitation'),
    'SE-nobias': dict(type='SqueezeExcitation', bias=False),
    'ECA': dict(type='EfficientChannelAttention'),
    'SGE': dict(type='SpatialGroupEnhance'),
    'CBAM': dict(type='CBAM'),
}
LAYOUTS = {
    # torchvision: bare keys and the classifier
    'torchvision': lambda state: dict(state, **{'fc.weight': torch.ones(3, 2048)}),
    # mmdet/mmpretrain: a whole model under state_dict, the backbone under backbone.
    'mmdet': lambda state: {
        'meta': {'epoch': 12},
        'state_dict': dict(
            {f'backbone.{k}': v for k, v in state.items()}, **{'neck.conv.weight': torch.ones(1)}
        ),
    },
}


def randomized_resnet(depth=50):
    """A plain mmdet ResNet with random weights and random BatchNorm statistics (float64)."""
    generator = torch.Generator().manual_seed(depth)
    model = ResNet(depth).double()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if name.endswith('running_var') or name.endswith('bn3.weight'):
                tensor.uniform_(0.5, 2.0, generator=generator)
            elif 'bn' in name or 'downsample.1' in name:
                tensor.normal_(0.0, 0.3, generator=generator)
            else:
                tensor.normal_(0.0, (2.0 / tensor[0].numel()) ** 0.5, generator=generator)
    model.eval()  # mmdet's ResNet.train returns None
    return model


@pytest.fixture(scope='module')
def plain():
    return randomized_resnet()


@pytest.fixture(scope='module')
def checkpoints(plain, tmp_path_factory):
    folder = tmp_path_factory.mktemp('plain')
    state = plain.state_dict()
    paths = {}
    for layout, write in LAYOUTS.items():
        paths[layout] = folder / f'resnet50_{layout}.pth'
        torch.save(write(state), paths[layout])
    return paths


@pytest.fixture(scope='module')
def image():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)).double()


def attention_backbone(attention, **kwargs):
    if ATTENTIONS[attention] is None:
        return SAResNet(50, **kwargs)
    return AttentionResNet(50, attention=ATTENTIONS[attention], **kwargs)


def grafted(attention, checkpoint, dtype=torch.float64, **kwargs):
    init_cfg = dict(type='Pretrained', checkpoint=str(checkpoint), **kwargs.pop('init', {}))
    model = attention_backbone(attention, init_cfg=init_cfg, **kwargs).to(dtype)
    model.init_weights()
    return model


def stage_errors(model, reference, image, mode):
    """Relative norm of the difference of every stage output, in train or eval mode."""
    dtype = next(model.parameters()).dtype
    reference = copy.deepcopy(reference).to(dtype)  # Module.to casts in place
    model.train(mode == 'train')
    reference.train(mode == 'train')
    with torch.no_grad():
        outs, expected = model(image.to(dtype)), reference(image.to(dtype))
    assert [o.shape for o in outs] == [e.shape for e in expected]
    return [((o - e).norm() / e.norm()).item() for o, e in zip(outs, expected)]


@pytest.mark.parametrize('layout', sorted(LAYOUTS))
@pytest.mark.parametrize('attention', sorted(ATTENTIONS))
def test_grafted_backbone_equals_the_plain_resnet(attention, layout, checkpoints, plain, image):
    # Rule: exact algebra; round-off in float64, <= 1e-5 relative in float32, both modes.
    for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        model = grafted(attention, checkpoints[layout], dtype)
        for mode in ('eval', 'train'):
            errors = stage_errors(model, plain, image, mode)
            assert max(errors) <= tolerance, (dtype, mode, errors)


def test_prefix_selects_the_backbone(checkpoints, plain, image):
    model = grafted('SA', checkpoints['mmdet'], init=dict(prefix='backbone.'))
    assert max(stage_errors(model, plain, image, 'eval')) <= 1e-12


@pytest.mark.parametrize('attention', ['SA', 'SE', 'SGE', 'CBAM'])
def test_negative_control_lenient_loading_is_another_network(attention, checkpoints, plain, image):
    # mmengine's own lenient Pretrained (what mmdet does without the map): far from the ResNet.
    model = attention_backbone(attention).double()
    load_checkpoint(model, str(checkpoints['torchvision']), strict=False, logger='silent')
    assert min(stage_errors(model, plain, image, 'eval')) > 0.1


def test_negative_control_the_shuffle_instead_of_its_inverse_fails(
    checkpoints, plain, image, monkeypatch
):
    monkeypatch.setattr(resnet_graft, 'conv3_index', lambda order: order)
    model = grafted('SA', checkpoints['torchvision'])
    assert min(stage_errors(model, plain, image, 'eval')) > 0.1


@pytest.mark.parametrize('attention', sorted(ATTENTIONS))
def test_every_attention_parameter_learns_by_step_two(attention, checkpoints):
    # Rule: the constant gates are a start, not a trap; frozen stages stay frozen.
    model = grafted(attention, checkpoints['torchvision'], torch.float32, frozen_stages=1)
    model.train()
    image = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    layers = model.attention_layers()
    learnt = dict.fromkeys(layers, False)
    for _ in range(2):
        optimizer.zero_grad()
        sum(out.square().mean() for out in model(image)).backward()
        for name, layer in layers.items():
            grads = [p.grad for p in layer.parameters()]
            if name.startswith('layer1.'):
                assert all(not p.requires_grad for p in layer.parameters())
            else:
                learnt[name] = learnt[name] or all(
                    g is not None and g.abs().sum() > 0 for g in grads
                )
        optimizer.step()
    assert [name for name, ok in learnt.items() if not ok and not name.startswith('layer1.')] == []


def test_attention_checkpoint_loads_as_it_is(checkpoints, plain, image, tmp_path, randomize_sa):
    trained = grafted('SA', checkpoints['torchvision'])
    randomize_sa(trained.layer2[0].sa, torch.Generator().manual_seed(5))
    path = tmp_path / 'sa.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in trained.state_dict().items()}}, path)
    model = grafted('SA', path)
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def zeros_of(model):
    """A state dict of ``model``'s keys and shapes that costs one float per tensor on disk."""
    return {
        k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in model.state_dict().items()
    }


def with_meta(make):
    with torch.device('meta'):
        return make()


def keys_of(make, *, dropping):
    """The zero state dict of ``make()`` without the keys for which ``dropping`` holds."""
    return {k: v for k, v in zeros_of(with_meta(make)).items() if not dropping(k)}


REFUSALS = {
    # Rule: the depth must match; ResNet-101 weights do not fit a depth-50 backbone.
    'depth': (
        lambda: zeros_of(with_meta(lambda: ResNet(101))),
        'SA',
        r'depth mismatch.*ResNet-101',
    ),
    # Rule: attention keys of another kind are unexpected.
    'other attention': (
        lambda: zeros_of(with_meta(lambda: attention_backbone('SE'))),
        'SA',
        r"unexpected keys: \d+ checkpoint keys .*'layer1\.0\.se_layer\.conv1\.conv\.weight'",
    ),
    # Rule: attention keys of only some layers are a half checkpoint.
    'partial attention': (
        lambda: keys_of(
            lambda: attention_backbone('SA'), dropping=lambda k: k.startswith('layer4.')
        ),
        'SA',
        r'depth mismatch',
    ),
    'partial sa keys': (
        lambda: keys_of(
            lambda: attention_backbone('SA'), dropping=lambda k: k.startswith('layer4.2.sa.')
        ),
        'SA',
        r"missing keys \(the attention keys of only some layers\): 6 .*'layer4\.2\.sa\.cweight'",
    ),
    # Rule: plain keys may not be missing.
    'missing plain key': (
        lambda: keys_of(lambda: ResNet(50), dropping=lambda k: 'layer3.1.bn2' in k),
        'ECA',
        r"missing keys: 4 .*'layer3\.1\.bn2\.weight'",
    ),
    # Rule: every shape is the model's.
    'shape': (
        lambda: dict(
            zeros_of(with_meta(lambda: ResNet(50))),
            **{'layer2.0.conv2.weight': torch.zeros(()).expand(128, 128, 1, 1)},
        ),
        'SGE',
        r'shape mismatch .*layer2\.0\.conv2\.weight: \(128, 128, 1, 1\) != \(128, 128, 3, 3\)',
    ),
    # Rule: a checkpoint of something else is not a ResNet.
    'not a resnet': (lambda: {'encoder.weight': torch.zeros(3)}, 'SA', 'not a ResNet checkpoint'),
}


@pytest.mark.parametrize('case', sorted(REFUSALS))
def test_a_checkpoint_that_does_not_fit_is_refused(case, tmp_path):
    make_state, attention, message = REFUSALS[case]
    path = tmp_path / 'checkpoint.pth'
    torch.save(make_state(), path)
    model = attention_backbone(attention, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ResNetCheckpointError, match=message):
        model.init_weights()
    # nothing was half-loaded
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_prefix_that_selects_nothing_is_refused(checkpoints):
    with pytest.raises(ResNetCheckpointError, match=r"no key starts with prefix='head\.'"):
        grafted('SA', checkpoints['mmdet'], init=dict(prefix='head.'))


def test_sanet_pretrained_refuses_a_plain_resnet(checkpoints):
    model = SAResNet(
        50, init_cfg=dict(type='SANetPretrained', checkpoint=str(checkpoints['mmdet']))
    )
    with pytest.raises(ResNetCheckpointError, match="plain ResNet-50.*type='Pretrained'"):
        model.init_weights()


def test_a_missing_file_says_where_imagenet_weights_come_from(tmp_path):
    model = SAResNet(101, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'r.pth')))
    with pytest.raises(FileNotFoundError, match="does not exist.*'torchvision://resnet101'"):
        model.init_weights()


def test_an_attention_without_a_known_graft_is_refused(checkpoints):
    model = AttentionResNet(
        50,
        attention=dict(type='ContextBlock', ratio=1 / 16),
        init_cfg=dict(type='Pretrained', checkpoint=str(checkpoints['torchvision'])),
    )
    with pytest.raises(ValueError, match='no exact graft .* ContextBlock .*ShuffleAttention'):
        model.init_weights()


def test_a_shuffle_cannot_follow_group_norm(checkpoints, tmp_path):
    gn = dict(type='GN', num_groups=32, requires_grad=True)
    state = zeros_of(with_meta(lambda: ResNet(50, norm_cfg=gn)))
    torch.save(state, tmp_path / 'gn.pth')
    model = SAResNet(
        50, norm_cfg=gn, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'gn.pth'))
    )
    with pytest.raises(ValueError, match='reorders channels.*GroupNorm'):
        model.init_weights()


def test_other_init_cfg_entries_run_first_and_init_runs_once(checkpoints, plain, image):
    model = SAResNet(
        50,
        init_cfg=[
            dict(type='Constant', layer='Conv2d', val=0.5),
            dict(type='Pretrained', checkpoint=str(checkpoints['torchvision'])),
        ],
    ).double()
    model.init_weights()
    model.init_weights()  # mmengine warns and does nothing; the graft is not applied twice
    assert max(stage_errors(model, plain, image, 'eval')) <= 1e-12


@pytest.fixture
def torch_home(tmp_path, monkeypatch, checkpoints):
    """A torch hub cache holding torchvision's ResNet-50 file (the plain test weights)."""
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    (cache / 'resnet50-0676ba61.pth').write_bytes(checkpoints['torchvision'].read_bytes())
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))

    def no_download(url, *args, **kwargs):
        raise AssertionError(f'tried to download {url}')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    return cache


@pytest.mark.parametrize(
    'checkpoint',
    ['torchvision://resnet50', 'https://download.pytorch.org/models/resnet50-0676ba61.pth'],
)
def test_torchvision_names_and_urls_load_from_the_hub_cache(checkpoint, torch_home, plain, image):
    model = grafted('SA', checkpoint)
    assert max(stage_errors(model, plain, image, 'eval')) <= 1e-12


def test_a_downloaded_file_is_read_weights_only(torch_home):
    class RunsCode:
        def __reduce__(self):
            return (print, ('ran code from the checkpoint',))

    torch.save({'conv1.weight': torch.ones(1), 'x': RunsCode()}, torch_home / 'evil.pth')
    model = SAResNet(50, init_cfg=dict(type='Pretrained', checkpoint='https://host/evil.pth'))
    with pytest.raises(pickle.UnpicklingError, match='weights_only=True.*nothing in the file'):
        model.init_weights()


def test_an_unknown_torchvision_name_is_refused(torch_home):
    model = SAResNet(50, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet5'))
    with pytest.raises(KeyError, match="no model 'resnet5'.*'resnet50'"):
        model.init_weights()


def test_the_torchvision_config_starts_its_detector_from_the_plain_resnet(torch_home, plain, image):
    # The whole detector of configs/sa_resnet/*-tv-pre_*, as mim train builds and inits it.
    cfg = Config.fromfile(REPO / 'configs/sa_resnet/faster-rcnn_sa-r50-tv-pre_fpn_1x_coco.py')
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
    detector.init_weights()
    assert max(stage_errors(detector.backbone, plain, image, 'eval')) <= 1e-5  # float32
