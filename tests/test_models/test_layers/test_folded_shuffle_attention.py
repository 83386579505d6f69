"""FoldedShuffleAttention: SA with its shuffle moved in front, trained or in place."""

import pytest
import torch

from sa_mmdet.analysis.saved_tensors import saved_tensor_bytes
from sa_mmdet.models import FoldedShuffleAttention, ShuffleAttention
from sa_mmdet.models.layers import sa_gate_params


def shuffled(x: torch.Tensor) -> torch.Tensor:
    """The input of a folded layer: SA's input in shuffled channel order."""
    channels = x.shape[1]
    return x[:, torch.arange(channels).view(2, channels // 2).t().reshape(-1)]


def make_sa(channels, groups, dtype, randomize_sa):
    gen = torch.Generator().manual_seed(0)
    sa = ShuffleAttention(channels, groups=groups).to(dtype)
    randomize_sa(sa, gen)
    return sa, gen


def test_no_grad_saves_nothing_and_writes_in_place(randomize_sa):
    sa, gen = make_sa(64, 8, torch.float32, randomize_sa)
    x = torch.randn(2, 64, 5, 5, generator=gen)
    folded = FoldedShuffleAttention.from_shuffle_attention(sa, inplace=True)
    expected = sa(x)
    with torch.no_grad():
        buffer = shuffled(x).clone()
        out, saved = saved_tensor_bytes(folded, buffer)
    assert saved == 0 and out.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(out, expected)
    # with autograd the deploy form does not overwrite its input
    x_shuffled = shuffled(x)
    out = folded(x_shuffled)
    assert out.data_ptr() != x_shuffled.data_ptr()
    torch.testing.assert_close(out, expected)


def test_folded_layer_trains_like_the_original(randomize_sa):
    shape = (2, 96, 4, 6)
    sa, gen = make_sa(96, 8, torch.float64, randomize_sa)
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    folded = FoldedShuffleAttention.from_shuffle_attention(sa)
    assert [tuple(p.shape) for p in folded.parameters()] == [(2, 6), (2, 6)]
    out = folded(shuffled(x))
    grad_x, grad_w, grad_b = torch.autograd.grad(out, [x, *folded.parameters()], upstream)
    expected_out = sa(x)
    expected = torch.autograd.grad(expected_out, [x, *sa.parameters()], upstream)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(grad_x, expected[0])
    # gate parameter gradients, pushed through sa_gate_params, give SA's gradients
    params = [p.detach().requires_grad_() for p in sa.parameters()]
    weight, bias = sa_gate_params(*params[:4], *params[4:])
    for got, want in zip(
        torch.autograd.grad([weight, bias], params, [grad_w, grad_b]), expected[1:], strict=True
    ):
        torch.testing.assert_close(got, want)


def test_bad_arguments_raise_value_error():
    # Rule: the deploy form needs an even number of groups dividing C / 2.
    with pytest.raises(ValueError, match='groups=3'):
        FoldedShuffleAttention(24, groups=3)
    with pytest.raises(ValueError, match='groups=8'):
        FoldedShuffleAttention(24, groups=8)
    # Rule: the input must have in_channels channels.
    with pytest.raises(ValueError, match=r'\(N, 64, H, W\)'):
        FoldedShuffleAttention(64, groups=8)(torch.randn(1, 32, 2, 2))


@pytest.mark.parametrize(
    'kwargs,error,match',
    [
        (dict(in_channels=0, groups=2), ValueError, 'positive in_channels'),
        (dict(in_channels=64, groups=2.0), TypeError, 'pass groups=2'),
        (dict(in_channels=64, groups=True), TypeError, 'groups to be a positive int'),
        (dict(in_channels=64, groups=2, eps=0), ValueError, 'positive, finite eps'),
    ],
)
def test_bad_argument_types_and_signs_raise(kwargs, error, match):
    # Rule: ShuffleAttention's, plus an even groups.
    with pytest.raises(error, match=match):
        FoldedShuffleAttention(**kwargs)


def test_float64_input_into_float32_layer_raise_runtime_error():
    # Rule: nn.GroupNorm's, as ShuffleAttention.
    with pytest.raises(RuntimeError, match=r'layer\.double\(\).*x\.float\(\)'):
        FoldedShuffleAttention(64, groups=4)(torch.randn(2, 64, 4, 4, dtype=torch.float64))


@pytest.mark.parametrize('shape', [(0, 64, 3, 3), (2, 64, 0, 5), (2, 64, 3, 0)])
@pytest.mark.parametrize('inplace', [False, True])
def test_empty_input_gives_an_empty_output_and_zero_gradients(shape, inplace):
    folded = FoldedShuffleAttention(64, groups=4, inplace=inplace)
    x = torch.randn(shape, requires_grad=True)
    out = folded(x)
    assert out.shape == shape and out.dtype == x.dtype
    out.sum().backward()
    assert x.grad.shape == shape
    assert torch.equal(folded.weight.grad, torch.zeros(2, 8))
    assert torch.equal(folded.bias.grad, torch.zeros(2, 8))
    with torch.no_grad():
        assert folded(torch.randn(shape)).shape == shape
