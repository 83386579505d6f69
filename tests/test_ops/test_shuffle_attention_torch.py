"""The operator's pure-PyTorch form (kernels off) against the paper's equations."""

import pytest
import torch

import sa_mmdet.ops.shuffle_attention_torch as sa_torch
from sa_mmdet.models import ShuffleAttention
from sa_mmdet.models.layers import sa_gate_params
from sa_mmdet.ops import sa_kernel_enabled, shuffle_attention

CASES = [
    ((2, 256, 7, 9), 64),
    ((3, 64, 5, 4), 8),
    ((2, 32, 1, 1), 16),
    ((1, 16, 3, 4), 2),
    ((2, 48, 6, 5), 4),
]


@pytest.fixture(autouse=True)
def pytorch_form():
    with sa_kernel_enabled(False):
        yield


def make_sa(channels, groups, dtype, randomize_sa, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sa = ShuffleAttention(channels, groups=groups).to(dtype)
    randomize_sa(sa, gen)
    return sa, gen


def outputs_and_grads(fn, x, params, upstream):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    return (out, *torch.autograd.grad(out, [x, *params], upstream))


def assert_all_close(got, expected, rtol, atol):
    names = ['output', 'x', 'cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias']
    for name, a, b in zip(names, got, expected, strict=True):
        # atol relative to each tensor's scale: parameter gradients sum over N * H * W * G
        torch.testing.assert_close(
            a,
            b,
            rtol=rtol,
            atol=atol * max(1.0, b.abs().max().item()),
            msg=lambda m, name=name: f'{name}: {m}',
        )


@pytest.mark.parametrize('shape,groups', CASES)
def test_float64_equals_both_references(shape, groups, randomize_sa, sa_reference):
    sa, gen = make_sa(shape[1], groups, torch.float64, randomize_sa)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    got = outputs_and_grads(sa, x, params, upstream)
    for reference in (sa.forward_reference, lambda t: sa_reference(sa, t)):
        assert_all_close(got, outputs_and_grads(reference, x, params, upstream), 1e-9, 1e-11)


@pytest.mark.parametrize('shape,groups', CASES)
def test_float32_within_1e5_of_reference(shape, groups, randomize_sa):
    sa, gen = make_sa(shape[1], groups, torch.float32, randomize_sa)
    x = torch.randn(shape, generator=gen)
    upstream = torch.randn(shape, generator=gen)
    params = list(sa.parameters())
    assert_all_close(
        outputs_and_grads(sa, x, params, upstream),
        outputs_and_grads(sa.forward_reference, x, params, upstream),
        1e-5,
        1e-5,
    )


def test_functions_keep_dtypes_memory_format_and_are_deterministic():
    # Rule: statistics and parameter gradients in the dtype of weight, output and grad_x in
    # x's dtype and memory format, and a second run is bit-identical (fixed reduction order).
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 32, 5, 6, generator=gen).bfloat16().to(memory_format=torch.channels_last)
    weight, bias = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    grad_out = torch.randn(x.shape, generator=gen).bfloat16()
    runs = []
    for _ in range(2):
        out, mean, rstd = sa_torch.forward_torch(x, weight, bias, 1e-5)
        runs.append(
            (out, mean, rstd, *sa_torch.backward_torch(grad_out, x, weight, bias, mean, rstd))
        )
    out, mean, rstd, grad_x, grad_weight, grad_bias = runs[0]
    for t in (out, grad_x):
        assert t.dtype == torch.bfloat16 and t.is_contiguous(memory_format=torch.channels_last)
    assert mean.shape == rstd.shape == (2, 32) and grad_weight.shape == grad_bias.shape == (8,)
    assert all(t.dtype == torch.float32 for t in (mean, rstd, grad_weight, grad_bias))
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


def test_gradcheck(randomize_sa):
    sa, gen = make_sa(16, 4, torch.float64, randomize_sa)
    x = torch.randn(2, 16, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    weight, bias = (
        p.detach().requires_grad_()
        for p in sa_gate_params(
            sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight, sa.gn.bias
        )
    )
    assert torch.autograd.gradcheck(
        lambda x, w, b: shuffle_attention(x, w, b, 4), (x, weight, bias)
    )


def test_channels_last_input_keeps_its_memory_format(randomize_sa):
    shape = (2, 128, 6, 7)
    sa, gen = make_sa(128, 16, torch.float64, randomize_sa)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    got = outputs_and_grads(sa, x.to(memory_format=torch.channels_last), params, upstream)
    assert got[0].is_contiguous(memory_format=torch.channels_last)
    assert got[1].is_contiguous(memory_format=torch.channels_last)
    assert_all_close(got, outputs_and_grads(sa.forward_reference, x, params, upstream), 1e-9, 1e-11)


def test_non_dense_input(randomize_sa):
    sa, gen = make_sa(64, 8, torch.float64, randomize_sa)
    x = torch.randn(2, 64, 6, 10, generator=gen, dtype=torch.float64)[..., ::2]
    upstream = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    assert_all_close(
        outputs_and_grads(sa, x, params, upstream),
        outputs_and_grads(sa.forward_reference, x, params, upstream),
        1e-9,
        1e-11,
    )


def test_expanded_output_gradient(randomize_sa):
    # out.sum().backward() hands the layer a gradient with all-zero strides
    sa, gen = make_sa(64, 8, torch.float64, randomize_sa)
    x = torch.randn(2, 64, 5, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    params = [x, *sa.parameters()]
    for got, want in zip(
        torch.autograd.grad(sa(x).sum(), params),
        torch.autograd.grad(sa.forward_reference(x).sum(), params),
        strict=True,
    ):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_autocast_bfloat16_is_close_to_float32(randomize_sa):
    shape = (2, 256, 7, 9)
    sa, gen = make_sa(256, 64, torch.float32, randomize_sa)
    x = torch.randn(shape, generator=gen)
    upstream = torch.randn(shape, generator=gen)
    params = list(sa.parameters())
    expected = outputs_and_grads(sa, x, params, upstream)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        # under autocast a convolution hands SA a bfloat16 tensor
        got = outputs_and_grads(sa, x.bfloat16(), params, upstream.bfloat16())
    assert got[0].dtype == got[1].dtype == torch.bfloat16
    assert all(grad.dtype == torch.float32 for grad in got[2:])
    assert_all_close([t.float() for t in got], expected, 0, 2e-2)
    # a float32 input stays float32 and exact under autocast
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = sa(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected[0], rtol=0, atol=0)
