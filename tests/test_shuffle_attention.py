import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from sa_mmdet.models import ShuffleAttention
from sa_mmdet.models.layers import channel_shuffle, valid_sa_groups
from sa_reference import randomize_sa_parameters, shuffle_attention_reference


def reference_of(sa: ShuffleAttention, x: torch.Tensor) -> torch.Tensor:
    return shuffle_attention_reference(x, sa.cweight, sa.cbias, sa.sweight, sa.sbias,
                                       sa.gn.weight, sa.gn.bias, sa.groups, sa.gn.eps)


def test_registered_in_mmdet_models():
    with DefaultScope.overwrite_default_scope('mmdet'):
        sa = MODELS.build(dict(type='ShuffleAttention', in_channels=256))
    assert isinstance(sa, ShuffleAttention)
    assert sa.groups == 64


@pytest.mark.parametrize('channels,groups', [(256, 64), (128, 64), (64, 8), (24, 3)])
def test_parameter_names_shapes_and_init(channels, groups):
    sa = ShuffleAttention(channels, groups=groups)
    k = channels // (2 * groups)
    shapes = {name: tuple(p.shape) for name, p in sa.named_parameters()}
    assert shapes == {
        'cweight': (1, k, 1, 1), 'cbias': (1, k, 1, 1),
        'sweight': (1, k, 1, 1), 'sbias': (1, k, 1, 1),
        'gn.weight': (k, ), 'gn.bias': (k, ),
    }
    # 3C/G parameters per module, as in the paper.
    assert sum(p.numel() for p in sa.parameters()) == 3 * channels // groups
    assert sa.gn.num_groups == k and sa.gn.eps == 1e-5
    assert torch.all(sa.cweight == 0) and torch.all(sa.sweight == 0)
    assert torch.all(sa.cbias == 1) and torch.all(sa.sbias == 1)


@pytest.mark.parametrize('shape,groups', [((2, 256, 7, 9), 64), ((3, 64, 5, 4), 8),
                                          ((1, 24, 6, 6), 3), ((2, 32, 1, 1), 16)])
def test_equals_reference_forward_and_gradients(shape, groups):
    gen = torch.Generator().manual_seed(0)
    sa = ShuffleAttention(shape[1], groups=groups).double()
    randomize_sa_parameters(sa, gen)
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)

    out = sa(x)
    params = list(sa.parameters())
    grads = torch.autograd.grad(out, [x, *params], upstream)
    expected = reference_of(sa, x)
    expected_grads = torch.autograd.grad(expected, [x, *params], upstream)

    assert out.shape == x.shape
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-11)


def test_gradcheck():
    gen = torch.Generator().manual_seed(1)
    sa = ShuffleAttention(16, groups=4).double()
    randomize_sa_parameters(sa, gen)
    x = torch.randn(2, 16, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sa, (x, ))


def test_init_is_identity_scaled_by_sigmoid_one():
    # With cw = sw = 0 and cb = sb = 1 every gate is sigmoid(1): out = shuffle(x) * sigmoid(1).
    x = torch.randn(2, 128, 4, 4)
    out = ShuffleAttention(128)(x)
    torch.testing.assert_close(out, channel_shuffle(x, 2) * torch.sigmoid(torch.tensor(1.)))


def test_channel_shuffle_interleaves_halves():
    x = torch.arange(6.).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0., 3., 1., 4., 2., 5.]


@pytest.mark.parametrize('channels,groups', [(96, 64), (256, 3), (64, 0), (7, 1)])
def test_bad_channels_for_groups_raise_value_error(channels, groups):
    # Rule: in_channels must be divisible by 2 * groups.
    with pytest.raises(ValueError) as info:
        ShuffleAttention(channels, groups=groups)
    message = str(info.value)
    assert f'in_channels={channels}' in message and f'groups={groups}' in message
    assert str(valid_sa_groups(channels)) in message


def test_valid_sa_groups():
    assert valid_sa_groups(96) == [1, 2, 3, 4, 6, 8, 12, 16, 24, 48]
    assert valid_sa_groups(7) == []
