"""ShuffleAttention: the paper's layer, its parameters, both implementations and its errors."""

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from analysis_lib.saved_tensors import saved_tensor_bytes
from sa_mmdet.models import SAResNet, ShuffleAttention
from sa_mmdet.models.layers import channel_shuffle, sa_gate_params
from sa_mmdet.ops import shuffle_attention, valid_sa_groups


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
        'cweight': (1, k, 1, 1),
        'cbias': (1, k, 1, 1),
        'sweight': (1, k, 1, 1),
        'sbias': (1, k, 1, 1),
        'gn.weight': (k,),
        'gn.bias': (k,),
    }
    # 3C/G parameters per module, as in the paper.
    assert sum(p.numel() for p in sa.parameters()) == 3 * channels // groups
    assert sa.gn.num_groups == k and sa.gn.eps == 1e-5
    assert torch.all(sa.cweight == 0) and torch.all(sa.sweight == 0)
    assert torch.all(sa.cbias == 1) and torch.all(sa.sbias == 1)


@pytest.mark.parametrize(
    'shape,groups',
    [((2, 256, 7, 9), 64), ((3, 64, 5, 4), 8), ((1, 24, 6, 6), 3), ((2, 32, 1, 1), 16)],
)
@pytest.mark.parametrize('implementation', ['fast', 'reference'])
def test_equals_reference_forward_and_gradients(
    shape, groups, implementation, randomize_sa, sa_reference
):
    gen = torch.Generator().manual_seed(0)
    sa = ShuffleAttention(shape[1], groups=groups, implementation=implementation).double()
    randomize_sa(sa, gen)
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)

    out = sa(x)
    params = list(sa.parameters())
    grads = torch.autograd.grad(out, [x, *params], upstream)
    expected = sa_reference(sa, x)
    expected_grads = torch.autograd.grad(expected, [x, *params], upstream)

    assert out.shape == x.shape
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-11)


def test_gradcheck(randomize_sa):
    gen = torch.Generator().manual_seed(1)
    sa = ShuffleAttention(16, groups=4).double()
    randomize_sa(sa, gen)
    x = torch.randn(2, 16, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sa, (x,))


def test_init_is_identity_scaled_by_sigmoid_one():
    # With cw = sw = 0 and cb = sb = 1 every gate is sigmoid(1): out = shuffle(x) * sigmoid(1).
    x = torch.randn(2, 128, 4, 4)
    out = ShuffleAttention(128)(x)
    torch.testing.assert_close(out, channel_shuffle(x, 2) * torch.sigmoid(torch.tensor(1.0)))


def test_channel_shuffle_interleaves_halves():
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


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


def test_inside_with_cp_bottlenecks(randomize_sa):
    gen = torch.Generator().manual_seed(3)
    models = [
        SAResNet(
            depth=50,
            num_stages=2,
            strides=(1, 2),
            dilations=(1, 1),
            out_indices=(0, 1),
            with_cp=with_cp,
        ).double()
        for with_cp in (False, True)
    ]
    for sa in (m for m in models[0].modules() if isinstance(m, ShuffleAttention)):
        randomize_sa(sa, gen)
    models[1].load_state_dict(models[0].state_dict())
    x = torch.randn(2, 3, 32, 32, generator=gen, dtype=torch.float64)
    grads = []
    for model in models:
        model.train()
        outs = model(x.clone().requires_grad_())
        sum((o * o).sum() for o in outs).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    sa_grads = [grad for name, grad in grads[1].items() if '.sa.' in name]
    assert len(sa_grads) == 6 * 7 and all(grad is not None for grad in sa_grads)
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-9, atol=1e-12)


def test_saved_for_backward_is_the_input_plus_plane_statistics():
    shape = (2, 256, 14, 14)
    x = torch.randn(shape, requires_grad=True)
    input_bytes = x.numel() * x.element_size()
    stats_bytes = 2 * shape[0] * shape[1] * x.element_size()  # 2 statistics per (n, c)
    _, fast = saved_tensor_bytes(ShuffleAttention(256), x)
    _, reference = saved_tensor_bytes(ShuffleAttention(256, implementation='reference'), x)
    # x, the plane statistics and a few parameter-sized tensors (under 100 bytes)
    assert input_bytes < fast <= input_bytes + stats_bytes + 100
    # the reference keeps the input, the GroupNorm output and the gates: 2.5x
    assert reference > 2 * input_bytes


@pytest.mark.parametrize('groups', [3, 1])
def test_odd_groups_use_the_reference(groups, randomize_sa, sa_reference):
    gen = torch.Generator().manual_seed(0)
    sa = ShuffleAttention(24, groups=groups).double()
    randomize_sa(sa, gen)
    x = torch.randn(2, 24, 4, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(sa(x), sa_reference(sa, x), rtol=1e-10, atol=1e-12)
    weight, bias = sa_gate_params(
        sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight, sa.gn.bias
    )
    # Rule: the operator needs an even number of groups.
    with pytest.raises(ValueError, match=f'groups={groups}'):
        shuffle_attention(x, weight, bias, groups)


def test_bad_arguments_raise_value_error():
    # Rule: implementation is 'fast' or 'reference'.
    with pytest.raises(ValueError, match="'slow'"):
        ShuffleAttention(64, groups=8, implementation='slow')
    sa = ShuffleAttention(64, groups=8)
    sa.implementation = 'slow'
    with pytest.raises(ValueError, match="'slow'"):
        sa(torch.randn(1, 64, 2, 2))
    # Rule: the input must have in_channels channels.
    with pytest.raises(ValueError, match=r'\(N, 64, H, W\)'):
        ShuffleAttention(64, groups=8)(torch.randn(1, 32, 2, 2))
    # Rule: gate weight and bias are (2, C / 2G).
    with pytest.raises(ValueError, match=r'\(2, 4\)'):
        shuffle_attention(torch.randn(1, 64, 2, 2), torch.zeros(4), torch.zeros(4), 8)


# argument checks -------------------------------------------------------------------------------


def test_zero_in_channels_raise_value_error():
    # Rule: in_channels is a positive int (0 used to divide by zero in GroupNorm).
    with pytest.raises(ValueError, match='positive in_channels, but got in_channels=0'):
        ShuffleAttention(0, 1)


@pytest.mark.parametrize('channels', ['64', 64.0, True])
def test_non_int_in_channels_raise_type_error(channels):
    # Rule: in_channels is an int; a bool is not a channel count.
    with pytest.raises(TypeError, match='in_channels to be a positive int') as info:
        ShuffleAttention(channels, groups=2)
    assert repr(channels) in str(info.value)
    if not isinstance(channels, bool):  # the int it spells
        assert 'pass in_channels=64' in str(info.value)


@pytest.mark.parametrize('groups', [32.0, 2.5, '2', True])
def test_non_int_groups_raise_type_error(groups):
    # Rule: groups is an int; the message lists the valid ones.
    with pytest.raises(TypeError, match='groups to be a positive int') as info:
        ShuffleAttention(64, groups=groups)
    assert repr(groups) in str(info.value) and str(valid_sa_groups(64)) in str(info.value)


def test_negative_groups_raise_value_error():
    # Rule: groups is positive.
    with pytest.raises(ValueError, match='positive groups') as info:
        ShuffleAttention(64, groups=-2)
    assert 'groups=-2' in str(info.value) and str(valid_sa_groups(64)) in str(info.value)


def test_numpy_integers_are_taken_as_ints():
    sa = ShuffleAttention(np.int64(64), groups=np.int32(4))
    assert type(sa.in_channels) is int and type(sa.groups) is int
    assert (sa.in_channels, sa.groups) == (64, 4)


@pytest.mark.parametrize('eps', [0, -1e-5, float('nan'), float('inf')])
def test_non_positive_eps_raise_value_error(eps):
    # Rule: eps is positive and finite (it keeps a constant plane's normalisation finite).
    with pytest.raises(ValueError, match='positive, finite eps'):
        ShuffleAttention(64, groups=4, eps=eps)


@pytest.mark.parametrize('eps', ['1e-5', True, None])
def test_non_number_eps_raise_type_error(eps):
    with pytest.raises(TypeError, match='eps to be a positive float'):
        ShuffleAttention(64, groups=4, eps=eps)


# dtypes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize('implementation', ['fast', 'reference'])
def test_float64_input_into_float32_layer_raise_runtime_error(implementation):
    # Rule: nn.GroupNorm's; both implementations raise, naming the two fixes.
    sa = ShuffleAttention(64, groups=4, implementation=implementation)
    with pytest.raises(RuntimeError, match=r'float32 parameters but got a torch\.float64') as info:
        sa(torch.randn(2, 64, 4, 4, dtype=torch.float64))
    assert 'layer.double()' in str(info.value) and 'x.float()' in str(info.value)


@pytest.mark.parametrize('implementation', ['fast', 'reference'])
@pytest.mark.parametrize(
    'layer_dtype,input_dtype',
    [
        (torch.float64, torch.float32),
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float16),
    ],
)
def test_other_dtype_mismatches_raise_runtime_error(implementation, layer_dtype, input_dtype):
    sa = ShuffleAttention(64, groups=4, implementation=implementation).to(layer_dtype)
    with pytest.raises(RuntimeError, match=f'{layer_dtype} parameters but got a {input_dtype}'):
        sa(torch.randn(2, 64, 4, 4).to(input_dtype))


def half_precision_outputs(sa, x, randomize_sa):
    """Both implementations' outputs for ``x``, and the float32 output of ``x.float()``."""
    randomize_sa(sa, torch.Generator().manual_seed(0))
    outs = []
    for implementation in ('fast', 'reference'):
        sa.implementation = implementation
        outs.append(sa(x))
    return outs, sa(x.float())


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_input_keeps_its_dtype_in_both_implementations(dtype, randomize_sa):
    # Rule: float32 statistics, the output in the input's dtype (as nn.GroupNorm).
    x = torch.randn(2, 64, 5, 7, generator=torch.Generator().manual_seed(1)).to(dtype)
    (fast, reference), expected = half_precision_outputs(
        ShuffleAttention(64, groups=4), x, randomize_sa
    )
    assert fast.dtype == reference.dtype == dtype
    assert fast.shape == reference.shape == x.shape
    torch.testing.assert_close(fast, reference)
    torch.testing.assert_close(fast, expected.to(dtype))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_autocast_keeps_the_input_dtype_in_both_implementations(dtype, randomize_sa):
    x = torch.randn(2, 64, 5, 7, generator=torch.Generator().manual_seed(1)).to(dtype)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        (fast, reference), expected = half_precision_outputs(
            ShuffleAttention(64, groups=4), x, randomize_sa
        )
    assert fast.dtype == reference.dtype == dtype
    torch.testing.assert_close(fast, reference)
    torch.testing.assert_close(fast, expected.to(dtype))


# empty inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize('shape', [(0, 64, 3, 3), (2, 64, 0, 5), (2, 64, 3, 0)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_empty_input_gives_an_empty_output_and_zero_gradients(shape, dtype):
    # Rule: N, H or W may be 0, in both implementations (as nn.GroupNorm).
    for implementation, groups in (('fast', 4), ('reference', 4), ('reference', 1)):
        sa = ShuffleAttention(64, groups=groups, implementation=implementation)
        x = torch.randn(shape).to(dtype).requires_grad_()
        out = sa(x)
        assert out.shape == shape and out.dtype == dtype, implementation
        out.sum().backward()
        assert x.grad.shape == shape
        for name, param in sa.named_parameters():
            assert torch.equal(param.grad, torch.zeros_like(param)), (implementation, name)
