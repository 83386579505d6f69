"""The operator on a CUDA GPU: Triton kernels vs the paper's equations, compile, AMP.

Skipped without CUDA; ``tools/gpu_check.sh`` runs it on a GPU. The same kernels
run on the CPU in Triton's interpreter in ``test_shuffle_attention_triton.py``.
"""

import copy

import pytest
import torch

from sa_mmdet.models import SAResNet, ShuffleAttention
from sa_mmdet.ops import sa_backend, sa_gate_params, sa_kernel_enabled, shuffle_attention

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')

# N = 1, H * W = 1, H * W not a multiple of a block, G from 2 to 64, and the benchmark shapes
CASES = [
    ((2, 256, 7, 9), 64),
    ((1, 64, 7, 5), 8),
    ((3, 16, 5, 4), 2),
    ((2, 48, 1, 1), 4),
    ((2, 128, 33, 47), 32),
    ((2, 256, 200, 336), 64),
    ((2, 1024, 50, 84), 64),
    ((8, 512, 28, 28), 64),
]
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-2, torch.bfloat16: 5e-2}


def make_case(shape, groups, randomize_sa, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sa = ShuffleAttention(shape[1], groups=groups)
    randomize_sa(sa, gen)
    x = torch.randn(shape, generator=gen)
    upstream = torch.randn(shape, generator=gen)
    return sa, x, upstream


def outputs_and_grads(fn, x, params, upstream):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    return [out, *torch.autograd.grad(out, [x, *params], upstream.to(out.dtype))]


GRAD_NAMES = ('output', 'x', 'cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias')


def assert_close(got, expected, tol, names=GRAD_NAMES):
    assert len(got) == len(expected) <= len(names)
    for name, a, b in zip(names, got, expected):
        a, b = a.double().cpu(), b.double().cpu()
        # relative to the tensor's scale: parameter gradients sum over N * H * W * G
        err = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
        assert err <= tol, f'{name}: max error {err:.2e} of its scale > {tol}'


def test_cuda_runs_the_triton_kernels():
    pytest.importorskip('triton')
    assert sa_backend('cuda') == 'triton'


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize('shape,groups', CASES)
def test_triton_equals_the_reference(shape, groups, dtype, randomize_sa, sa_reference):
    sa, x, upstream = make_case(shape, groups, randomize_sa)
    reference = copy.deepcopy(sa).double()
    expected = outputs_and_grads(
        lambda t: sa_reference(reference, t),
        x.double(),
        list(reference.parameters()),
        upstream.double(),
    )
    sa = sa.cuda()
    got = outputs_and_grads(sa, x.cuda().to(dtype), list(sa.parameters()), upstream.cuda())
    assert got[0].dtype == got[1].dtype == dtype
    assert_close(got, expected, TOLERANCE[dtype])


def test_pytorch_form_on_cuda_equals_the_kernels(randomize_sa):
    sa, x, upstream = make_case((2, 256, 20, 30), 64, randomize_sa)
    sa, x, upstream = sa.cuda(), x.cuda(), upstream.cuda()
    got = outputs_and_grads(sa, x, list(sa.parameters()), upstream)
    with sa_kernel_enabled(False):
        expected = outputs_and_grads(sa, x, list(sa.parameters()), upstream)
    assert_close(got, expected, 1e-5)


def test_channels_last_is_correct(randomize_sa, sa_reference):
    sa, x, upstream = make_case((2, 128, 6, 7), 16, randomize_sa)
    expected = outputs_and_grads(lambda t: sa_reference(sa, t), x, list(sa.parameters()), upstream)
    sa = sa.cuda()
    got = outputs_and_grads(
        sa, x.cuda().to(memory_format=torch.channels_last), list(sa.parameters()), upstream.cuda()
    )
    assert got[0].is_contiguous(memory_format=torch.channels_last)
    assert_close(got, expected, 1e-5)


def test_parameter_gradients_are_bitwise_deterministic(randomize_sa):
    sa, x, upstream = make_case((4, 512, 28, 28), 64, randomize_sa)
    sa, x, upstream = sa.cuda(), x.cuda(), upstream.cuda()
    first = outputs_and_grads(sa, x, list(sa.parameters()), upstream)
    second = outputs_and_grads(sa, x, list(sa.parameters()), upstream)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize('shape', [(2, 256, 7, 9), (2, 256, 50, 84)], ids=['tile', 'loop'])
def test_gradient_of_a_sum_equals_its_dense_copy(randomize_sa, shape):
    # y.sum().backward() gives one plane expanded over N and C: read as it is, same bits.
    sa, x, _ = make_case(shape, 64, randomize_sa)
    sa, x = sa.cuda(), x.cuda()
    upstream = torch.randn(shape[2:], device='cuda').expand(shape)
    got = outputs_and_grads(sa, x, list(sa.parameters()), upstream)
    expected = outputs_and_grads(sa, x, list(sa.parameters()), upstream.contiguous())
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b)


def test_compile_fullgraph_on_cuda_equals_eager(randomize_sa):
    model = SAResNet(depth=50).cuda().train()
    x = torch.randn(2, 3, 128, 160, device='cuda')
    compiled = torch.compile(model, fullgraph=True)
    outs, expected = compiled(x), model(x)
    # fifty layers of train-mode BatchNorm, which Inductor fuses and reduces in another order
    # (on an H200 126 of 655,360 outputs of the last stage differed by more than 1e-4)
    assert_close(outs, expected, 1e-4, names=[f'stage {i + 1}' for i in range(4)])
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(sum(o.square().mean() for o in outs), params)
    want = torch.autograd.grad(sum(o.square().mean() for o in expected), params)
    for got, ref in zip(grads, want, strict=True):
        err = (got - ref).abs().max().item() / max(ref.abs().max().item(), 1e-12)
        assert err < 1e-3


def test_autocast_float16_keeps_fp32_statistics(randomize_sa, sa_reference):
    sa, x, upstream = make_case((2, 256, 14, 18), 64, randomize_sa)
    expected = sa_reference(sa, x)
    sa = sa.cuda()
    with torch.autocast('cuda', dtype=torch.float16):
        out, mean, _ = torch.ops.sa_mmdet.shuffle_attention_forward(
            x.cuda().half(),
            torch.randn(4, device='cuda'),
            torch.randn(4, device='cuda'),
            1e-5,
        )
        got = sa(x.cuda().half())
    assert out.dtype == got.dtype == torch.float16 and mean.dtype == torch.float32
    assert_close([got], [expected], 2e-2)


def test_cuda_autograd_is_torch_librarys(randomize_sa):
    sa, x, _ = make_case((2, 64, 5, 7), 8, randomize_sa)
    x = x.cuda().requires_grad_()
    for out in (sa.cuda()(x), shuffle_attention(x, *sa_gate_params(*sa.parameters()), sa.groups)):
        assert out.grad_fn.name().startswith('GeneratedBackwardFor_sa_mmdet_shuffle_attention')


def test_amp_optim_wrapper_trains_an_sa_backbone():
    # mmdet's --amp: AmpOptimWrapper (fp16 autocast and a dynamic loss scale)
    from mmengine.optim import AmpOptimWrapper

    model = SAResNet(depth=50).cuda().train()
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01))
    x = torch.randn(2, 3, 128, 128, device='cuda')
    before = model.layer1[0].sa.cweight.detach().clone()
    for _ in range(3):
        with wrapper.optim_context(model):
            loss = sum(out.float().square().mean() for out in model(x))
        wrapper.update_params(loss)
    assert torch.isfinite(loss)
    assert not torch.equal(model.layer1[0].sa.cweight, before)
