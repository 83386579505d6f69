import pytest
import torch
from mmcv.ops import ModulatedDeformConv2dPack
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from sa_mmdet.models import SAResNet, ShuffleAttention

STAGE_CHANNELS = (256, 512, 1024, 2048)


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def sa_layers(model: torch.nn.Module):
    return {name: m for name, m in model.named_modules() if isinstance(m, ShuffleAttention)}


def test_registry_builds_sa_resnet():
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(dict(type='SAResNet', depth=50))
    assert isinstance(model, SAResNet) and isinstance(model, ResNet)


@pytest.mark.parametrize(
    'depth,blocks,extra', [(50, (3, 4, 6, 3), 708), (101, (3, 4, 23, 3), 1524)]
)
def test_parameter_count_and_official_key_names(depth, blocks, extra):
    model = SAResNet(depth=depth)
    # 3C/G per bottleneck: exactly 708 (R50) / 1524 (R101) more than mmdet's ResNet.
    assert num_params(model) - num_params(ResNet(depth=depth)) == extra
    state = model.state_dict()
    for stage, (num_blocks, channels) in enumerate(zip(blocks, STAGE_CHANNELS), start=1):
        k = channels // 128
        for block in range(num_blocks):
            prefix = f'layer{stage}.{block}.sa.'
            for name in ('cweight', 'cbias', 'sweight', 'sbias'):
                assert tuple(state[prefix + name].shape) == (1, k, 1, 1)
            assert tuple(state[prefix + 'gn.weight'].shape) == (k,)
            assert tuple(state[prefix + 'gn.bias'].shape) == (k,)
    assert len(sa_layers(model)) == sum(blocks)
    # torchvision-style names for everything else, as in official checkpoints.
    for key in (
        'conv1.weight',
        'bn1.running_mean',
        'layer1.0.conv3.weight',
        'layer1.0.bn3.weight',
        'layer1.0.downsample.0.weight',
        'layer1.0.downsample.1.weight',
    ):
        assert key in state


def test_sa_sits_after_bn3_before_residual_add():
    model = SAResNet(depth=50).eval()
    block = model.layer1[0]
    assert block.after_conv3_plugin_names == ['sa']
    assert block.after_conv1_plugin_names == [] and block.after_conv2_plugin_names == []
    seen = {}
    block.norm3.register_forward_hook(lambda m, i, o: seen.__setitem__('bn3', o))
    block.sa.register_forward_hook(lambda m, i, o: seen.__setitem__('sa_in', i[0]))
    model(torch.rand(1, 3, 32, 32))
    assert seen['sa_in'] is seen['bn3']


def test_forward_shapes_per_stage():
    model = SAResNet(depth=50, out_indices=(0, 1, 2, 3)).eval()
    outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (2, 256, 16, 24),
        (2, 512, 8, 12),
        (2, 1024, 4, 6),
        (2, 2048, 2, 3),
    ]


def test_out_indices():
    outs = SAResNet(depth=50, out_indices=(1, 3)).eval()(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 8, 8), (1, 2048, 2, 2)]


def test_init_weights_keeps_sa_init_and_zero_init_residual():
    model = SAResNet(depth=50, zero_init_residual=True)
    model.init_weights()
    for sa in sa_layers(model).values():
        assert torch.all(sa.cweight == 0) and torch.all(sa.sweight == 0)
        assert torch.all(sa.cbias == 1) and torch.all(sa.sbias == 1)
        assert torch.all(sa.gn.weight == 1) and torch.all(sa.gn.bias == 0)
    assert all(torch.all(block.norm3.weight == 0) for block in model.layer2)
    model = SAResNet(depth=50, zero_init_residual=False)
    model.init_weights()
    assert all(torch.all(block.norm3.weight == 1) for block in model.layer2)


def test_frozen_stages_freeze_sa_too():
    model = SAResNet(depth=50, frozen_stages=1)
    model.train()
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not model.layer1.training
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not model.layer1[0].sa.cweight.requires_grad


def test_norm_eval():
    model = SAResNet(depth=50, norm_eval=True)
    model.train()
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))
    model = SAResNet(depth=50, norm_eval=False)
    model.train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = SAResNet(depth=50, norm_eval=False)
    checkpointed = SAResNet(depth=50, with_cp=True, norm_eval=False)
    checkpointed.load_state_dict(plain.state_dict())
    assert all(block.with_cp for block in checkpointed.layer3)
    # 128 px, so that layer4 is 4x4: at 1x1 SA's spatial GroupNorm divides by sqrt(eps) and
    # the gradients reach 1e9, where float rounding (AVX2 vs AVX-512) decides elementwise
    # comparisons
    x = torch.rand(2, 3, 128, 128)
    for model in (plain, checkpointed):
        model.train()
        sum(o.square().mean() for o in model(x)).backward()
    for (name, p), q in zip(plain.named_parameters(), checkpointed.parameters()):
        assert p.grad is not None, name
        # the same computation twice: equal up to rounding, relative to the tensor's scale
        scale = p.grad.abs().max().item()
        assert (p.grad - q.grad).abs().max().item() <= 1e-4 * scale, name


def test_dcn_stages():
    model = SAResNet(
        depth=50,
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True),
    )
    assert not isinstance(model.layer1[0].conv2, ModulatedDeformConv2dPack)
    assert isinstance(model.layer2[0].conv2, ModulatedDeformConv2dPack)
    assert 'layer2.0.sa.cweight' in model.state_dict()
    outs = model.eval()(torch.rand(1, 3, 64, 64))
    assert tuple(outs[-1].shape) == (1, 2048, 2, 2)


def test_style_caffe_strides_conv1():
    pytorch = SAResNet(depth=50, style='pytorch')
    caffe = SAResNet(depth=50, style='caffe')
    assert pytorch.layer2[0].conv2.stride == (2, 2) and pytorch.layer2[0].conv1.stride == (1, 1)
    assert caffe.layer2[0].conv1.stride == (2, 2) and caffe.layer2[0].conv2.stride == (1, 1)


def test_pretrained_init_cfg(tmp_path):
    source = SAResNet(depth=50)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in source.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    path = tmp_path / 'sa_r50.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    for init in ('Pretrained', 'SANetPretrained'):
        model = SAResNet(depth=50, init_cfg=dict(type=init, checkpoint=str(path)))
        model.init_weights()
        for (name, p), q in zip(source.state_dict().items(), model.state_dict().values()):
            torch.testing.assert_close(p, q, msg=name)


def test_user_plugins_follow_sa():
    model = SAResNet(
        depth=50,
        plugins=[
            dict(
                cfg=dict(type='ContextBlock', ratio=1.0 / 16),
                position='after_conv3',
                stages=(False, True, True, True),
            ),
            dict(
                cfg=dict(
                    type='GeneralizedAttention',
                    spatial_range=-1,
                    num_heads=8,
                    attention_type='0010',
                    kv_stride=2,
                ),
                position='after_conv2',
                stages=(False, False, True, True),
            ),
        ],
    )
    assert model.layer1[0].after_conv3_plugin_names == ['sa']
    assert model.layer2[0].after_conv3_plugin_names == ['sa', 'context_block']
    assert model.layer3[0].after_conv2_plugin_names == ['gen_attention_block']
    outs = model.eval()(torch.rand(1, 3, 64, 64))
    assert tuple(outs[-1].shape) == (1, 2048, 2, 2)


def test_sa_stages_and_groups():
    model = SAResNet(depth=50, sa_stages=(False, True, True, True), sa_groups=32)
    assert not any(name.startswith('layer1.') for name in sa_layers(model))
    assert model.layer1[0].after_conv3_plugin_names == []
    assert tuple(model.layer2[0].sa.cweight.shape) == (1, 512 // 64, 1, 1)
    # 3C/G per bottleneck of stages 2-4 with G = 32.
    assert (
        num_params(model) - num_params(ResNet(depth=50))
        == 3 * (512 * 4 + 1024 * 6 + 2048 * 3) // 32
    )


def test_num_stages_three():
    model = SAResNet(
        depth=50,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2,),
        sa_stages=(True, False, True),
    )
    assert 'layer2.0.sa.cweight' not in model.state_dict()
    assert tuple(model.eval()(torch.rand(1, 3, 64, 64))[0].shape) == (1, 1024, 4, 4)


@pytest.mark.parametrize('depth', [18, 34, 26, 200])
def test_unsupported_depth_raises_key_error(depth):
    # Rule: SA needs Bottleneck blocks; BasicBlock's 64 channels cannot be split into 2 * 64.
    with pytest.raises(
        KeyError, match=r'invalid depth \d+ for SAResNet: use one of \[50, 101, 152\]'
    ):
        SAResNet(depth=depth)


@pytest.mark.parametrize('sa_stages', [(True, True), (True,) * 5, 'TTTT', (1, 1, 1, 1), 3])
def test_bad_sa_stages_raise_value_error(sa_stages):
    # Rule: one boolean per stage.
    with pytest.raises(ValueError, match='sa_stages must be 4 booleans'):
        SAResNet(depth=50, sa_stages=sa_stages)


@pytest.mark.parametrize('sa_groups', [3, 256, 0])
def test_bad_sa_groups_raise_value_error(sa_groups):
    # Rule: every stage's output channels must be divisible by 2 * sa_groups.
    with pytest.raises(ValueError, match=f'groups={sa_groups}'):
        SAResNet(depth=50, sa_groups=sa_groups)


def test_every_parameter_gets_a_gradient():
    model = SAResNet(depth=50, norm_eval=False, zero_init_residual=False)
    model.init_weights()
    model.train()
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('depth', ['50', 50.0, True])
def test_non_int_depth_raise_type_error(depth):
    # Rule: depth is an int; the message lists the valid ones ('50' used to read "depth 50").
    with pytest.raises(TypeError, match=r'depth must be an int, one of \[50, 101, 152\]') as info:
        SAResNet(depth=depth)
    assert repr(depth) in str(info.value)
    if not isinstance(depth, bool):  # the int it spells
        assert 'pass depth=50' in str(info.value)


@pytest.mark.parametrize('sa_groups', ['64', 32.0])
def test_non_int_sa_groups_raise_type_error(sa_groups):
    with pytest.raises(TypeError, match='sa_groups to be a positive int'):
        SAResNet(depth=50, sa_groups=sa_groups)
