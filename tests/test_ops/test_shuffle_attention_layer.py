"""sa_mmdet::shuffle_attention_layer: the layer's six parameters in one op and one autograd node."""

import pytest
import torch

from sa_mmdet.models import ShuffleAttention
from sa_mmdet.ops import (
    opmath_dtype,
    sa_ext_available,
    sa_gate_params,
    sa_kernel_enabled,
    shuffle_attention,
    shuffle_attention_layer,
)

OPS = torch.ops.sa_mmdet
needs_kernel = pytest.mark.skipif(not sa_ext_available(), reason='sa_mmdet._ext is not built')


def make_layer(randomize_sa, channels=64, groups=8, dtype=torch.float32, seed=0):
    sa = ShuffleAttention(channels, groups=groups).to(dtype)
    randomize_sa(sa, torch.Generator().manual_seed(seed))
    return sa, list(sa.parameters())


def folded_path(x, params, groups, eps=1e-5):
    """What the layer computed before the op: the fold with autograd, then the functional."""
    return shuffle_attention(x, *sa_gate_params(*params), groups, eps)


def outputs_and_grads(fn, x, params, upstream):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    return [out, *torch.autograd.grad(out, [x, *params], upstream)]


@pytest.mark.parametrize('kernels', [True, False], ids=['kernels', 'pytorch'])
def test_opcheck_layer_op(randomize_sa, kernels):
    # schema, fake implementation, autograd registration and AOT dispatch (dynamic shapes too)
    _, params = make_layer(randomize_sa)
    x = torch.randn(2, 64, 5, 7, generator=torch.Generator().manual_seed(1))
    args = (x.requires_grad_(), *(p.detach().clone().requires_grad_() for p in params), 1e-5)
    with sa_kernel_enabled(kernels):
        torch.library.opcheck(OPS.shuffle_attention_layer, args)


@pytest.mark.parametrize(
    'dtype,memory_format,tol',
    [
        (torch.float32, torch.contiguous_format, 1e-6),
        (torch.float64, torch.contiguous_format, 1e-12),
        (torch.bfloat16, torch.contiguous_format, 1e-6),
        (torch.float32, torch.channels_last, 1e-6),
    ],
)
def test_layer_op_equals_fold_then_operator(randomize_sa, dtype, memory_format, tol):
    # the output bit for bit; the six gradients up to the order of one fused multiply-add
    sa, params = make_layer(randomize_sa, 128, 16, opmath_dtype(dtype))
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 128, 6, 7, generator=gen).to(dtype, memory_format=memory_format)
    upstream = torch.randn(x.shape, generator=gen).to(dtype)
    got = outputs_and_grads(sa, x, params, upstream)
    expected = outputs_and_grads(lambda t: folded_path(t, params, 16), x, params, upstream)
    assert torch.equal(got[0], expected[0])
    assert got[0].is_contiguous(memory_format=memory_format)
    for a, b in zip(got[1:], expected[1:], strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale)


@needs_kernel
def test_layer_is_one_autograd_node(randomize_sa):
    # the input and the six parameters feed the layer's node directly: no fold nodes
    sa, params = make_layer(randomize_sa)
    x = torch.randn(2, 64, 5, 7, requires_grad=True)
    node = sa(x).grad_fn
    leaves = [fn for fn, _ in node.next_functions]
    assert [type(fn).__name__ for fn in leaves] == ['AccumulateGrad'] * 7
    assert leaves[0].variable is x
    assert all(fn.variable is p for fn, p in zip(leaves[1:], params, strict=True))


def test_python_composite_equals_the_cpp_node(randomize_sa):
    # inference mode skips the autograd keys: the op runs its Python composite, same output
    sa, params = make_layer(randomize_sa)
    x = torch.randn(3, 64, 4, 9)
    with torch.no_grad():
        expected = sa(x)
    with torch.inference_mode():
        got = OPS.shuffle_attention_layer(x, *params, 1e-5)
    assert torch.equal(got, expected)


def test_parameters_of_another_dtype_take_the_functional(randomize_sa):
    # float64 parameters with a float32 input: the functional converts them, as it always did
    _, params = make_layer(randomize_sa, dtype=torch.float64)
    x = torch.randn(2, 64, 3, 3)
    got = shuffle_attention_layer(x, *params, 8)
    expected = folded_path(x, [p.float() for p in params], 8)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_bad_shapes_raise_the_functionals_errors(randomize_sa):
    _, params = make_layer(randomize_sa)
    with pytest.raises(ValueError, match='groups'):
        shuffle_attention_layer(torch.randn(2, 64, 3, 3), *params, 3)
    with pytest.raises(ValueError, match=r'shape \(2, 2\)'):
        shuffle_attention_layer(torch.randn(2, 32, 3, 3), *params, 8)
