"""AttentionResNet: the SA-Net paper's baselines (Table 1) as mmdet ResNets."""

import importlib
import importlib.util

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from sa_mmdet.models.backbones.attention_resnet import AttentionResNet
from sa_mmdet.models.layers.cbam import CBAM
from sa_mmdet.models.layers.eca_layer import EfficientChannelAttention
from sa_mmdet.models.layers.se_layer import SqueezeExcitation
from sa_mmdet.models.layers.sge_layer import SpatialGroupEnhance

STAGE_CHANNELS = (256, 512, 1024, 2048)
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
FC = 2048 * 1000 + 1000  # the 1000-class classifier Table 1 counts
RESNET = {50: 25_557_032, 101: 44_549_160}  # ResNet + fc (Table 1: 25.557, 44.549)

ATTENTIONS = {
    'se': (dict(type='SqueezeExcitation'), SqueezeExcitation, 'se_layer'),
    'eca': (dict(type='EfficientChannelAttention'), EfficientChannelAttention, 'eca'),
    'sge': (dict(type='SpatialGroupEnhance'), SpatialGroupEnhance, 'sge'),
    'cbam': (dict(type='CBAM'), CBAM, 'cbam'),
}


def per_layer_params(name, c):
    """Parameters of one attention layer on C channels, from each paper's definition."""
    return {
        'se': 2 * c * (c // 16) + c // 16 + c,  # two FCs with biases, reduction 16
        'eca': {256: 5, 512: 5, 1024: 5, 2048: 7}[c],  # one bias-free 1-D kernel, adaptive k
        'sge': 2 * 64,  # weight and bias per group, 64 groups
        'cbam': 2 * c * (c // 16) + c // 16 + c + 7 * 7 * 2 + 2,  # shared MLP + 7x7 conv + BN
    }[name]


def num_params(model):
    return sum(p.numel() for p in model.parameters())


# The SA-Net paper's Table 1 (M parameters, 1000-class fc included, 224x224).
TABLE1 = {
    ('se', 50): 28.088,
    ('cbam', 50): 28.090,
    ('sge', 50): 25.559,
    ('eca', 50): 25.557,
    ('se', 101): 49.327,
    ('cbam', 101): 49.330,
    ('sge', 101): 44.553,
    ('eca', 101): 44.549,
}


def meta(depth, **kwargs):
    """Build on the meta device: every layer is made, no storage; fast to count."""
    with torch.device('meta'):
        return AttentionResNet(depth, **kwargs) if kwargs else ResNet(depth)


def test_plain_resnet_counts():
    assert num_params(meta(50)) + FC == RESNET[50] and num_params(meta(101)) + FC == RESNET[101]


@pytest.mark.parametrize('name,depth', sorted(TABLE1))
def test_parameter_counts_match_paper_table1(name, depth):
    model = meta(depth, attention=ATTENTIONS[name][0])
    extra = sum(n * per_layer_params(name, c) for n, c in zip(BLOCKS[depth], STAGE_CHANNELS))
    assert num_params(model) + FC == RESNET[depth] + extra
    assert round((num_params(model) + FC) / 1e6, 3) == TABLE1[name, depth]
    for stage, channels in enumerate(STAGE_CHANNELS, start=1):
        for block in getattr(model, f'layer{stage}'):
            layer = getattr(block, ATTENTIONS[name][2])
            assert isinstance(layer, ATTENTIONS[name][1]) and layer.in_channels == channels
            assert block.after_conv3_plugin_names == [ATTENTIONS[name][2]]


def test_se_increments_with_and_without_bias():
    # SE-ResNet-50 = ResNet-50 + 2,530,992 (Table 1); outside layer1 (frozen in detectors)
    # + 2,505,600. Without FC biases 16,048 fewer (16 + 256 per layer1 block, ...).
    model = meta(50, attention=dict(type='SqueezeExcitation'))
    in_layer1 = sum(p.numel() for b in model.layer1 for p in b.se_layer.parameters())
    assert num_params(model) + FC - RESNET[50] == 2_530_992
    assert 2_530_992 - in_layer1 == 2_505_600
    no_bias = meta(50, attention=dict(type='SqueezeExcitation', bias=False))
    assert num_params(no_bias) + FC - RESNET[50] == 2_530_992 - 16_048


def tiny(attention, **kwargs):
    """A ResNet-50 of a quarter width (stages of 64-512 channels): fast forward passes."""
    return AttentionResNet(50, attention=attention, base_channels=16, stem_channels=16, **kwargs)


@pytest.mark.parametrize('name', sorted(ATTENTIONS))
def test_placement_shapes_per_stage_and_every_gradient(name):
    cfg, _, abbr = ATTENTIONS[name]
    model = tiny(cfg, out_indices=(0, 1, 2, 3), norm_eval=False, zero_init_residual=False)
    model.init_weights()
    with torch.no_grad():  # the official inits zero some gates' weights; make all of them live
        for module in model.modules():
            if isinstance(module, (SpatialGroupEnhance, CBAM)):
                for p in module.parameters():
                    p.normal_()
    block = model.layer2[0]
    seen = {}
    block.norm3.register_forward_hook(lambda m, i, o: seen.__setitem__('bn3', o))
    getattr(block, abbr).register_forward_hook(lambda m, i, o: seen.__setitem__('in', i[0]))
    outs = model.train()(torch.rand(2, 3, 64, 32))
    assert seen['in'] is seen['bn3']  # after conv3/bn3, before the residual add
    assert [tuple(o.shape) for o in outs] == [
        (2, 64, 16, 8),
        (2, 128, 8, 4),
        (2, 256, 4, 2),
        (2, 512, 2, 1),
    ]
    sum(o.mean() for o in outs).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname


def test_registry_builds_with_and_without_default_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(
            dict(
                type='AttentionResNet',
                depth=50,
                attention=dict(type='SpatialGroupEnhance', groups=32),
            )
        )
    assert isinstance(model, ResNet) and model.layer3[0].sge.groups == 32
    # Names are resolved in mmdet's registry, so no default scope is needed either.
    model = AttentionResNet(50, attention=dict(type='EfficientChannelAttention'))
    assert model.attention_cfgs[0] == dict(type='EfficientChannelAttention')
    # ShuffleAttention and mmcv's ContextBlock work as the attention too.
    model = AttentionResNet(50, attention=dict(type='ShuffleAttention', groups=64))
    assert model.layer1[0].after_conv3_plugin_names == ['sa']
    model = AttentionResNet(50, attention=dict(type='ContextBlock', ratio=1.0 / 16))
    assert model.layer1[0].after_conv3_plugin_names == ['context_block']


def test_per_stage_attention_configs():
    # The official ECA-ResNet-50 checkpoint uses kernel sizes 3, 5, 5, 7 per stage.
    model = AttentionResNet(
        50, attention=[dict(type='EfficientChannelAttention', kernel_size=k) for k in (3, 5, 5, 7)]
    )
    assert [getattr(model, f'layer{s}')[0].eca.kernel_size for s in (1, 2, 3, 4)] == [3, 5, 5, 7]
    model = AttentionResNet(
        50, attention=(None, dict(type='SqueezeExcitation'), None, dict(type='CBAM'))
    )
    assert model.layer1[0].after_conv3_plugin_names == []
    assert model.layer2[0].after_conv3_plugin_names == ['se_layer']
    assert model.layer3[0].after_conv3_plugin_names == []
    assert model.layer4[0].after_conv3_plugin_names == ['cbam']


def test_user_plugins_follow_the_attention():
    model = tiny(
        dict(type='SqueezeExcitation'),
        plugins=[
            dict(
                cfg=dict(type='ContextBlock', ratio=1.0 / 16),
                position='after_conv3',
                stages=(False, True, True, True),
            )
        ],
    )
    assert model.layer1[0].after_conv3_plugin_names == ['se_layer']
    assert model.layer2[0].after_conv3_plugin_names == ['se_layer', 'context_block']
    assert tuple(model.eval()(torch.rand(1, 3, 64, 32))[-1].shape) == (1, 512, 2, 1)


def test_inherited_options():
    se = dict(type='SqueezeExcitation')
    model = tiny(se, frozen_stages=1)
    model.train()
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert not model.layer1[0].se_layer.conv1.conv.weight.requires_grad
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))  # norm_eval
    model = tiny(dict(type='CBAM'), norm_eval=False).train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))
    outs = tiny(se, out_indices=(1, 3)).eval()(torch.rand(1, 3, 64, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 8, 4), (1, 512, 2, 1)]
    caffe = tiny(se, style='caffe')
    assert caffe.layer2[0].conv1.stride == (2, 2) and caffe.layer2[0].conv2.stride == (1, 1)
    three = tiny(
        [se, None, se], num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2,)
    )
    assert 'layer2.0.se_layer.conv1.conv.weight' not in three.state_dict()
    assert tuple(three.eval()(torch.rand(1, 3, 64, 32))[0].shape) == (1, 256, 4, 2)


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    se = dict(type='SqueezeExcitation')
    plain = tiny(se, norm_eval=False).double()
    checkpointed = tiny(se, with_cp=True, norm_eval=False).double()
    checkpointed.load_state_dict(plain.state_dict())
    assert all(block.with_cp for block in checkpointed.layer3)
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    for model in (plain, checkpointed):
        model.train()
        sum(o.sum() for o in model(x)).backward()
    for (name, p), q in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-9, msg=name)


def test_init_weights_keeps_official_inits_and_zero_init_residual():
    model = tiny(dict(type='SpatialGroupEnhance', groups=16))
    model.init_weights()
    assert torch.all(model.layer2[0].sge.weight == 0) and torch.all(model.layer2[0].sge.bias == 1)
    assert all(torch.all(block.norm3.weight == 0) for block in model.layer2)
    model = tiny(dict(type='CBAM'))
    model.init_weights()
    assert torch.all(model.layer3[1].cbam.spatial_conv.norm.weight == 0)
    assert torch.all(model.layer3[1].bn1.weight == 1)


def test_pretrained_init_cfg_loads_every_key(tmp_path):
    attention = dict(type='SqueezeExcitation')
    source = tiny(attention)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in source.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    path = tmp_path / 'se_r50.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in source.state_dict().items()}}, path)
    model = tiny(
        attention, init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=str(path))
    )
    model.init_weights()
    for (name, p), q in zip(source.state_dict().items(), model.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)


@pytest.mark.parametrize('depth', [50, 101])
def test_se_keys_match_mmpretrain_seresnet(depth, sa_mmdet_pretrain):
    # mmpretrain's SE-ResNet ImageNet checkpoints load with prefix='backbone.' as is.
    SEResNet = importlib.import_module('mmpretrain.models').SEResNet
    theirs = {k: v.shape for k, v in SEResNet(depth=depth).state_dict().items()}
    ours = {
        k: v.shape
        for k, v in AttentionResNet(depth, attention=dict(type='SqueezeExcitation'))
        .state_dict()
        .items()
    }
    assert ours == theirs


@pytest.mark.parametrize('depth', [18, 34, 26])
def test_unsupported_depth_raises_key_error(depth):
    # Rule: plugins need Bottleneck blocks (mmdet's BasicBlock takes none).
    with pytest.raises(KeyError, match=r'invalid depth \d+ for AttentionResNet'):
        AttentionResNet(depth, attention=dict(type='SqueezeExcitation'))


@pytest.mark.parametrize('depth', ['50', 50.0])
def test_non_int_depth_raise_type_error(depth):
    # Rule: depth is an int; the message lists the valid ones.
    with pytest.raises(TypeError, match=r'one of \[50, 101, 152\]; pass depth=50'):
        AttentionResNet(depth, attention=dict(type='SqueezeExcitation'))


@pytest.mark.parametrize(
    'attention',
    [
        None,
        'SqueezeExcitation',
        dict(ratio=16),
        [dict(type='CBAM')] * 3,
        [dict(type='CBAM'), 1, None, None],
    ],
)
def test_bad_attention_raises_value_error(attention):
    # Rule: one config dict with a "type", or one dict (or None) per stage.
    with pytest.raises(ValueError, match='attention must be a config dict with a "type"'):
        AttentionResNet(50, attention=attention)


def test_unknown_attention_type_raises_key_error():
    # Rule: the type must be registered in mmdet's MODELS.
    with pytest.raises(KeyError, match="'SELayerX' is not registered"):
        AttentionResNet(50, attention=dict(type='SELayerX'))


@pytest.mark.parametrize(
    'attention,match',
    [
        (dict(type='SqueezeExcitation', ratio=512), 'ratio'),
        (dict(type='SpatialGroupEnhance', groups=48), 'divisible by groups'),
    ],
)
def test_bad_layer_hyper_parameters_raise_value_error(attention, match):
    # Rule: every stage's layer checks its own hyper-parameters (256 channels in layer1).
    with pytest.raises(ValueError, match=match):
        AttentionResNet(50, attention=attention)
