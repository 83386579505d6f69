"""The Shuffle Attention operator as torch.library sees it: registration, compile, AMP."""

import pytest
import torch

from sa_mmdet.models import SAResNet, ShuffleAttention
from sa_mmdet.models.layers import sa_gate_params
from sa_mmdet.ops import sa_kernel_enabled, shuffle_attention

OPS = torch.ops.sa_mmdet


def gate_params(channels: int, groups: int, dtype=torch.float32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    k = channels // (2 * groups)
    weight = torch.randn(2 * k, generator=gen, dtype=dtype)
    bias = torch.randn(2 * k, generator=gen, dtype=dtype)
    return weight, bias, gen


@pytest.mark.parametrize('kernels', [True, False], ids=['kernels', 'pytorch'])
def test_opcheck_forward_and_backward(kernels):
    # schema, fake (meta) implementation, autograd registration and AOT dispatch
    weight, bias, gen = gate_params(64, 8)
    x = torch.randn(2, 64, 5, 7, generator=gen)
    with sa_kernel_enabled(kernels):
        out, mean, rstd = OPS.shuffle_attention_forward(x, weight, bias, 1e-5)
        grad = torch.randn(out.shape, generator=gen)
        torch.library.opcheck(
            OPS.shuffle_attention_forward,
            (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_(), 1e-5),
        )
        torch.library.opcheck(
            OPS.shuffle_attention_backward,
            (grad, x.detach(), weight.detach(), bias.detach(), mean, rstd),
        )


def test_statistics_are_those_of_each_plane():
    weight, bias, gen = gate_params(32, 4)
    x = torch.randn(2, 32, 6, 5, generator=gen) * 3 + 1
    for kernels in (True, False):
        with sa_kernel_enabled(kernels):
            _, mean, rstd = OPS.shuffle_attention_forward(x, weight, bias, 1e-5)
        torch.testing.assert_close(mean, x.mean((2, 3)))
        torch.testing.assert_close(rstd, (x.var((2, 3), unbiased=False) + 1e-5).rsqrt())


def test_shuffle_attention_compiles_without_graph_breaks(sa_reference, randomize_sa):
    sa = ShuffleAttention(64, groups=8)
    randomize_sa(sa, torch.Generator().manual_seed(0))
    x = torch.randn(2, 64, 6, 5, requires_grad=True)
    explanation = torch._dynamo.explain(sa)(x)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    compiled = torch.compile(sa, fullgraph=True)
    out = compiled(x)
    torch.testing.assert_close(out, sa(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, sa_reference(sa, x), rtol=1e-5, atol=1e-5)
    grads = torch.autograd.grad(out.square().sum(), [x, *sa.parameters()])
    expected = torch.autograd.grad(sa(x).square().sum(), [x, *sa.parameters()])
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_sa_resnet50_compiles_fullgraph_forward_and_backward():
    # Rule: no graph break anywhere in the backbone (the fullgraph compile fails on one). The
    # whole graph goes through Dynamo and AOTAutograd; Inductor's code generation for it (minutes
    # on 2 cores) is left to the GPU check, the single layer above runs it here.
    model = SAResNet(depth=50).train()
    x = torch.randn(1, 3, 64, 64)
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0
    compiled = torch.compile(model, fullgraph=True, backend='aot_eager')
    outs = compiled(x)
    expected = model(x)
    for out, want in zip(outs, expected, strict=True):
        torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(sum(o.square().mean() for o in outs), params)
    want = torch.autograd.grad(sum(o.square().mean() for o in expected), params)
    for got, ref in zip(grads, want, strict=True):
        scale = max(1.0, ref.abs().max().item())
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize('kernels', [True, False], ids=['kernels', 'pytorch'])
def test_autocast_bfloat16_keeps_fp32_statistics_and_the_input_dtype(kernels):
    weight, bias, gen = gate_params(64, 8)
    x = torch.randn(2, 64, 7, 9, generator=gen) * 2 + 3
    with sa_kernel_enabled(kernels), torch.autocast('cpu', dtype=torch.bfloat16):
        out, mean, rstd = OPS.shuffle_attention_forward(x.bfloat16(), weight, bias, 1e-5)
    assert out.dtype == torch.bfloat16 and mean.dtype == rstd.dtype == torch.float32
    # statistics of the bf16 input, accumulated in fp32
    torch.testing.assert_close(mean, x.bfloat16().float().mean((2, 3)), rtol=1e-5, atol=1e-5)


def test_bitwise_deterministic_parameter_gradients():
    weight, bias, gen = gate_params(256, 64)
    x = torch.randn(4, 256, 9, 11, generator=gen)
    grad = torch.randn(x.shape, generator=gen)
    grads = []
    for _ in range(2):
        w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
        out = shuffle_attention(x, w.view(2, -1), b.view(2, -1), 64)
        grads.append(torch.autograd.grad(out, [w, b], grad))
    for first, second in zip(*grads, strict=True):
        assert torch.equal(first, second)


def test_gate_params_flow_into_the_operator(sa_reference, randomize_sa):
    sa = ShuffleAttention(32, groups=4).double()
    randomize_sa(sa, torch.Generator().manual_seed(3))
    x = torch.randn(2, 32, 3, 4, dtype=torch.float64)
    weight, bias = sa_gate_params(
        sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight, sa.gn.bias
    )
    torch.testing.assert_close(shuffle_attention(x, weight, bias, 4), sa_reference(sa, x))


@pytest.mark.parametrize('shape', [(0, 64, 3, 3), (2, 64, 0, 5), (2, 64, 3, 0)])
def test_empty_input_gives_an_empty_output_and_zero_gradients(shape):
    # Rule: N, H or W may be 0 (no plane statistic is computed: it would be NaN).
    weight, bias, _ = gate_params(64, 8)
    weight, bias = weight.view(2, -1).requires_grad_(), bias.view(2, -1).requires_grad_()
    x = torch.randn(shape, dtype=torch.bfloat16, requires_grad=True)
    out = shuffle_attention(x, weight, bias, 8)
    assert out.shape == shape and out.dtype == torch.bfloat16
    grads = torch.autograd.grad(out.sum(), [x, weight, bias])
    assert grads[0].shape == shape
    assert torch.equal(grads[1], torch.zeros(2, 4)) and torch.equal(grads[2], torch.zeros(2, 4))


@pytest.mark.parametrize('groups', [8.0, '8', True])
def test_non_int_groups_raise_type_error(groups):
    # Rule: groups is an int (a float 8.0 used to pass as 8).
    weight, bias, _ = gate_params(64, 8)
    with pytest.raises(TypeError, match='groups to be a positive int'):
        shuffle_attention(torch.randn(1, 64, 2, 2), weight.view(2, -1), bias.view(2, -1), groups)
