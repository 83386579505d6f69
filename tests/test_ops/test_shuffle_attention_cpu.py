"""The compiled CPU kernel (sa_mmdet._ext) against the PyTorch form and the paper's equations."""

import importlib
import os

import pytest
import torch

from sa_mmdet.models import ShuffleAttention
from sa_mmdet.models.layers import sa_gate_params
from sa_mmdet.ops import sa_ext_available, sa_kernel_enabled, shuffle_attention

sa_op = importlib.import_module('sa_mmdet.ops.shuffle_attention')  # the module, not the function

needs_kernel = pytest.mark.skipif(
    not sa_ext_available(),
    reason='sa_mmdet._ext is not built (SA_MMDET_WITH_OPS=0, or '
    'installed without --no-build-isolation); build it with python setup.py build_ext --inplace',
)

# N = 1, odd H * W, G = 2 and G = 64
CASES = [((2, 256, 7, 9), 64), ((1, 64, 7, 5), 8), ((3, 16, 5, 4), 2), ((2, 48, 1, 1), 4)]
NAMES = ['output', 'x', 'cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias']


def test_extension_is_built_unless_disabled():
    # Rule: CI builds the kernel; only SA_MMDET_WITH_OPS=0 may leave it out.
    if os.environ.get('SA_MMDET_WITH_OPS') == '0':
        pytest.skip('SA_MMDET_WITH_OPS=0: the kernel is not built on purpose')
    assert sa_ext_available(), (
        'sa_mmdet._ext failed to build or to import; set SA_MMDET_WITH_OPS=0 to run without it'
    )


@pytest.fixture
def make_case(randomize_sa):

    def make(shape, groups, dtype, seed=0):
        gen = torch.Generator().manual_seed(seed)
        sa = ShuffleAttention(shape[1], groups=groups).to(dtype)
        randomize_sa(sa, gen)
        x = torch.randn(shape, generator=gen, dtype=dtype)
        upstream = torch.randn(shape, generator=gen, dtype=dtype)
        return sa, x, upstream

    return make


def outputs_and_grads(fn, x, params, upstream):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    return [out, *torch.autograd.grad(out, [x, *params], upstream)]


def run(sa, x, upstream, kernel):
    with sa_kernel_enabled(kernel):
        return outputs_and_grads(sa, x, list(sa.parameters()), upstream)


@pytest.fixture
def reference(sa_reference):
    return lambda sa, x, upstream: outputs_and_grads(
        lambda t: sa_reference(sa, t), x, list(sa.parameters()), upstream
    )


def assert_all_close(got, expected, tol):
    for name, a, b in zip(NAMES, got, expected, strict=True):
        # tolerance relative to each tensor's scale: parameter gradients sum over N * H * W * G
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(
            a, b, rtol=tol, atol=tol * scale, msg=lambda m, name=name: f'{name}: {m}'
        )


@pytest.fixture
def backends(monkeypatch) -> list:
    """Record, for every forward of the operator, whether it ran the compiled kernel."""
    taken = []
    kernel_backend = sa_op._kernel_backend

    def spy(*tensors):
        result = kernel_backend(*tensors)
        if tensors[0].dim() == 4 and len(tensors) == 3:  # forward only
            taken.append(result == 'cpp')
        return result

    monkeypatch.setattr(sa_op, '_kernel_backend', spy)
    return taken


@needs_kernel
@pytest.mark.parametrize('shape,groups', CASES)
def test_float32_kernel_equals_pytorch_form_and_reference(
    backends, make_case, reference, shape, groups
):
    sa, x, upstream = make_case(shape, groups, torch.float32)
    got = run(sa, x, upstream, kernel=True)
    assert backends == [True] and got[0].shape == x.shape
    assert_all_close(got, run(sa, x, upstream, kernel=False), 1e-5)
    assert_all_close(got, reference(sa, x, upstream), 1e-5)
    assert backends == [True, False]


@needs_kernel
@pytest.mark.parametrize('shape,groups', CASES)
def test_float64_kernel_equals_reference(make_case, reference, shape, groups):
    sa, x, upstream = make_case(shape, groups, torch.float64)
    assert_all_close(run(sa, x, upstream, kernel=True), reference(sa, x, upstream), 1e-10)


@needs_kernel
def test_float32_statistics_of_an_offset_input(make_case, reference):
    # mean 100 x std: a naive one-pass sum of squares in float32 loses the variance
    sa, x, upstream = make_case((2, 32, 40, 50), 4, torch.float32)
    x = x * 0.5 + 50.0
    got = run(sa, x, upstream, kernel=True)
    expected = reference(sa.double(), x.double(), upstream.double())
    assert_all_close([t.double() for t in got], expected, 1e-4)


@needs_kernel
def test_gradcheck_through_the_kernel(backends, make_case):
    sa, x, _ = make_case((2, 16, 3, 5), 4, torch.float64)
    weight, bias = (
        p.detach().requires_grad_()
        for p in sa_gate_params(
            sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight, sa.gn.bias
        )
    )
    assert torch.autograd.gradcheck(
        lambda x, w, b: shuffle_attention(x, w, b, 4), (x.requires_grad_(), weight, bias)
    )
    assert backends and all(backends)


@needs_kernel
def test_autocast_bfloat16_kernel_is_close_to_float32(backends, make_case, reference):
    sa, x, upstream = make_case((2, 256, 7, 9), 64, torch.float32)
    expected = reference(sa, x, upstream)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = run(sa, x.bfloat16(), upstream.bfloat16(), kernel=True)
    assert backends == [True]
    assert got[0].dtype == got[1].dtype == torch.bfloat16
    assert all(grad.dtype == torch.float32 for grad in got[2:])
    assert_all_close([t.float() for t in got], expected, 2e-2)


@needs_kernel
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_inputs_match_the_pytorch_form(make_case, dtype):
    sa, x, upstream = make_case((2, 64, 6, 5), 8, torch.float32)
    got = run(sa, x.to(dtype), upstream.to(dtype), kernel=True)
    expected = run(sa, x.to(dtype), upstream.to(dtype), kernel=False)
    assert got[0].dtype == dtype
    assert_all_close([t.float() for t in got], [t.float() for t in expected], 2e-2)


@pytest.mark.parametrize('kernel', [True, False])
def test_channels_last_takes_the_pytorch_form(backends, make_case, reference, kernel):
    sa, x, upstream = make_case((2, 128, 6, 7), 16, torch.float64)
    with sa_kernel_enabled(kernel):
        got = outputs_and_grads(
            sa, x.to(memory_format=torch.channels_last), list(sa.parameters()), upstream
        )
    assert backends == [False]
    assert got[0].is_contiguous(memory_format=torch.channels_last)
    assert_all_close(got, reference(sa, x, upstream), 1e-10)


def test_missing_extension_falls_back_silently(monkeypatch, make_case, reference):
    monkeypatch.setattr(sa_op, '_ext', None)
    assert not sa_ext_available()
    sa, x, upstream = make_case((1, 32, 4, 3), 2, torch.float64)
    assert_all_close(run(sa, x, upstream, kernel=True), reference(sa, x, upstream), 1e-10)


@pytest.fixture
def num_threads():
    """Set torch's intra-op threads inside a test; restored afterwards."""
    previous = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(previous)


@needs_kernel
def test_kernel_threads_split_planes_anywhere(num_threads, make_case, reference):
    # Rule: a thread's first plane may start mid-channel and mid-parameter (the kernel walks
    # channel, parameter and output plane by increments from there), planes are longer than a
    # block of the reductions and not a multiple of their lanes; every split gives the same
    # result, parameter gradients bit-identical (summed per plane, then in plane order).
    sa, x, upstream = make_case((1, 60, 65, 65), 6, torch.float32)  # P = 10, 4225 per plane
    params = list(sa.parameters())
    results = []
    for threads in (1, 2, 4):  # 4 threads: chunks of 15 planes, begin at c = 15, 30, 45
        num_threads(threads)
        results.append(outputs_and_grads(sa, x, params, upstream))
    for got in results[1:]:
        for a, b in zip(got, results[0], strict=True):
            assert torch.equal(a, b)
    assert_all_close(results[0], reference(sa, x, upstream), 1e-5)


@needs_kernel
def test_autograd_is_torch_librarys(make_case, reference):
    # Rule: one autograd mechanism, register_autograd's, for the layer and the functional alike;
    # the backward op is not differentiable twice.
    sa, x, upstream = make_case((2, 64, 5, 7), 8, torch.float32)
    x = x.requires_grad_()
    weight, bias = sa_gate_params(*sa.parameters())
    for out in (sa(x), shuffle_attention(x, weight, bias, sa.groups)):
        assert out.grad_fn.name().startswith('GeneratedBackwardFor_sa_mmdet_shuffle_attention')
        grad = torch.autograd.grad(out, x, upstream, create_graph=True)[0]
        with pytest.raises(RuntimeError, match='no autograd formula was registered'):
            grad.sum().backward()
    assert_all_close(run(sa, x, upstream, kernel=True), reference(sa, x, upstream), 1e-5)


@pytest.mark.parametrize('device', ['CPU', 'CUDA'])
def test_kernels_registered_per_device_and_one_autograd(device):
    # Rule: CPU and CUDA kernels are registered with the dispatcher directly (no per-call
    # custom_op wrapper); the only autograd is torch.library's, for every device.
    for op in ('shuffle_attention_forward', 'shuffle_attention_backward'):
        name = f'sa_mmdet::{op}'
        assert torch._C._dispatch_has_kernel_for_dispatch_key(name, device)
        assert torch._C._dispatch_has_kernel_for_dispatch_key(name, 'Autograd')
        assert not torch._C._dispatch_has_kernel_for_dispatch_key(name, f'Autograd{device}')
    assert not hasattr(torch.ops.sa_mmdet, 'shuffle_attention_layer')


@needs_kernel
@pytest.mark.parametrize(
    'expanded_from,read_as_is',
    [((), True), ((7, 9), True), ((1, 256, 7, 9), False), ((2, 1, 1, 1), False)],
    ids=['scalar', 'one-plane', 'over-N', 'per-sample'],
)
def test_expanded_upstream_gradient_equals_its_dense_copy(
    monkeypatch, make_case, expanded_from, read_as_is
):
    # Rule: an expanded gradient (y.sum().backward()) runs the kernel, bit-identical to its dense
    # copy; one plane expanded over N and C is read as it is, other expansions are copied once.
    sa, x, _ = make_case((2, 256, 7, 9), 64, torch.float32)
    upstream = torch.randn(expanded_from).expand(x.shape)
    copies, like_input = [], sa_op.like_input
    monkeypatch.setattr(sa_op, 'like_input', lambda *a: copies.append(1) or like_input(*a))
    got = run(sa, x, upstream, kernel=True)
    assert len(copies) == (0 if read_as_is else 1)
    expected = run(sa, x, upstream.contiguous(), kernel=True)
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b)
