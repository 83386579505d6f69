"""The fast ShuffleAttention path against the reference form and the paper's equations."""
import pytest
import torch

import sa_mmdet.models.layers.shuffle_attention_function as fast_sa
from sa_mmdet.models import FoldedShuffleAttention, SAResNet, ShuffleAttention
from sa_mmdet.models.layers import sa_gate_params, shuffle_attention
from sa_mmdet.utils import saved_tensor_bytes
from sa_reference import randomize_sa_parameters, shuffle_attention_reference

CASES = [((2, 256, 7, 9), 64), ((3, 64, 5, 4), 8), ((2, 32, 1, 1), 16), ((1, 16, 3, 4), 2),
         ((2, 48, 6, 5), 4)]


def make_sa(channels, groups, dtype, seed=0, implementation='fast'):
    gen = torch.Generator().manual_seed(seed)
    sa = ShuffleAttention(channels, groups=groups, implementation=implementation).to(dtype)
    randomize_sa_parameters(sa, gen)
    return sa, gen


def outputs_and_grads(fn, x, params, upstream):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    return (out, *torch.autograd.grad(out, [x, *params], upstream))


def plain_reference(sa):
    return lambda x: shuffle_attention_reference(x, sa.cweight, sa.cbias, sa.sweight, sa.sbias,
                                                 sa.gn.weight, sa.gn.bias, sa.groups, sa.gn.eps)


def assert_all_close(got, expected, rtol, atol):
    names = ['output', 'x', 'cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias']
    for name, a, b in zip(names, got, expected):
        # atol relative to each tensor's scale: parameter gradients sum over N * H * W * G
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol * max(1.0, b.abs().max().item()),
                                   msg=lambda m, name=name: f'{name}: {m}')


@pytest.mark.parametrize('shape,groups', CASES)
def test_float64_equals_both_references(shape, groups):
    sa, gen = make_sa(shape[1], groups, torch.float64)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    got = outputs_and_grads(sa, x, params, upstream)
    assert sa.implementation == 'fast' and got[0].shape == x.shape
    for reference in (sa.forward_reference, plain_reference(sa)):
        assert_all_close(got, outputs_and_grads(reference, x, params, upstream), 1e-9, 1e-11)


@pytest.mark.parametrize('shape,groups', CASES)
def test_float32_within_1e5_of_reference(shape, groups):
    sa, gen = make_sa(shape[1], groups, torch.float32)
    x = torch.randn(shape, generator=gen)
    upstream = torch.randn(shape, generator=gen)
    params = list(sa.parameters())
    assert_all_close(outputs_and_grads(sa, x, params, upstream),
                     outputs_and_grads(sa.forward_reference, x, params, upstream), 1e-5, 1e-5)


@pytest.mark.parametrize('chunk_numel', [500, 1000, 2000, 8000])
def test_every_chunking_gives_the_same_result(monkeypatch, chunk_numel):
    # A group of (3, 64, 5, 6) with G = 8 holds 16 * 30 = 480 elements, a sample 3840. Chunks:
    # 500: one group; 1000: two groups; 2000: all groups of one half; 8000: two samples (+ one).
    monkeypatch.setattr(fast_sa, 'CHUNK_NUMEL', chunk_numel // torch.get_num_threads())
    shape = (3, 64, 5, 6)
    sa, gen = make_sa(64, 8, torch.float64)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    assert_all_close(outputs_and_grads(sa, x, params, upstream),
                     outputs_and_grads(plain_reference(sa), x, params, upstream), 1e-9, 1e-11)


def test_gradcheck():
    sa, gen = make_sa(16, 4, torch.float64)
    x = torch.randn(2, 16, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    weight, bias = (p.detach().requires_grad_() for p in sa_gate_params(
        sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight, sa.gn.bias))
    for shuffle in (True, False):
        assert torch.autograd.gradcheck(
            lambda x, w, b, shuffle=shuffle: shuffle_attention(x, w, b, 4, shuffle=shuffle),
            (x, weight, bias))


def test_channels_last_input_keeps_its_memory_format():
    shape = (2, 128, 6, 7)
    sa, gen = make_sa(128, 16, torch.float64)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    x_cl = x.to(memory_format=torch.channels_last)
    got = outputs_and_grads(sa, x_cl, params, upstream)
    assert got[0].is_contiguous(memory_format=torch.channels_last)
    assert got[1].is_contiguous(memory_format=torch.channels_last)
    assert_all_close(got, outputs_and_grads(sa.forward_reference, x, params, upstream), 1e-9,
                     1e-11)


def test_non_dense_input():
    sa, gen = make_sa(64, 8, torch.float64)
    x = torch.randn(2, 64, 6, 10, generator=gen, dtype=torch.float64)[..., ::2]
    upstream = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    params = list(sa.parameters())
    assert_all_close(outputs_and_grads(sa, x, params, upstream),
                     outputs_and_grads(sa.forward_reference, x, params, upstream), 1e-9, 1e-11)


def test_expanded_output_gradient():
    # out.sum().backward() hands the layer a gradient with all-zero strides
    sa, gen = make_sa(64, 8, torch.float64)
    x = torch.randn(2, 64, 5, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    params = [x, *sa.parameters()]
    for got, want in zip(torch.autograd.grad(sa(x).sum(), params),
                         torch.autograd.grad(sa.forward_reference(x).sum(), params)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_autocast_bfloat16_is_close_to_float32():
    shape = (2, 256, 7, 9)
    sa, gen = make_sa(256, 64, torch.float32)
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


def test_inside_with_cp_bottlenecks():
    gen = torch.Generator().manual_seed(3)
    models = [SAResNet(depth=50, num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(0, 1),
                       with_cp=with_cp).double() for with_cp in (False, True)]
    for sa in (m for m in models[0].modules() if isinstance(m, ShuffleAttention)):
        randomize_sa_parameters(sa, gen)
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


def test_saved_for_backward_is_the_input_plus_row_statistics():
    shape = (2, 256, 14, 14)
    x = torch.randn(shape, requires_grad=True)
    input_bytes = x.numel() * x.element_size()
    stats_bytes = 2 * shape[0] * shape[1] * x.element_size()  # <= 2 statistics per (n, c)
    _, fast = saved_tensor_bytes(ShuffleAttention(256), x)
    _, reference = saved_tensor_bytes(ShuffleAttention(256, implementation='reference'), x)
    # x, the row statistics and a few parameter-sized tensors (under 100 bytes)
    assert input_bytes < fast < input_bytes + stats_bytes + 100
    # the reference keeps the input, the GroupNorm output and the gates: 2.5x
    assert reference > 2 * input_bytes


def test_no_grad_saves_nothing_and_inplace_deploy_form():
    sa, gen = make_sa(64, 8, torch.float32)
    x = torch.randn(2, 64, 5, 5, generator=gen)
    folded = FoldedShuffleAttention.from_shuffle_attention(sa, inplace=True)
    shuffled = x[:, torch.arange(64).view(2, 32).t().reshape(-1)]
    expected = sa(x)
    with torch.no_grad():
        buffer = shuffled.clone()
        out, saved = saved_tensor_bytes(folded, buffer)
    assert saved == 0 and out.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(out, expected)
    # with autograd the deploy form does not overwrite its input
    out = folded(shuffled)
    assert out.data_ptr() != shuffled.data_ptr()
    torch.testing.assert_close(out, expected)


def test_folded_layer_trains_like_the_original():
    shape = (2, 96, 4, 6)
    sa, gen = make_sa(96, 8, torch.float64)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
    perm = torch.arange(96).view(2, 48).t().reshape(-1)
    folded = FoldedShuffleAttention.from_shuffle_attention(sa)
    assert [tuple(p.shape) for p in folded.parameters()] == [(2, 6), (2, 6)]
    out, grad_x, grad_w, grad_b = outputs_and_grads(
        folded, x[:, perm], list(folded.parameters()), upstream)
    expected = outputs_and_grads(sa, x, list(sa.parameters()), upstream)
    torch.testing.assert_close(out, expected[0])
    torch.testing.assert_close(grad_x, expected[1][:, perm])
    # gate parameter gradients, pushed through sa_gate_params, give SA's gradients
    params = [p.detach().requires_grad_() for p in sa.parameters()]
    weight, bias = sa_gate_params(*params[:4], *params[4:])
    for got, want in zip(torch.autograd.grad([weight, bias], params, [grad_w, grad_b]),
                         expected[2:]):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize('groups', [3, 1])
def test_odd_groups_use_the_reference(groups):
    sa, gen = make_sa(24, groups, torch.float64)
    x = torch.randn(2, 24, 4, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(sa(x), plain_reference(sa)(x), rtol=1e-10, atol=1e-12)
    weight, bias = sa_gate_params(sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight,
                                  sa.gn.bias)
    # Rule: the fast function needs an even number of groups.
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
    # Rule: the deploy form needs an even number of groups.
    with pytest.raises(ValueError, match='groups=3'):
        FoldedShuffleAttention(24, groups=3)
