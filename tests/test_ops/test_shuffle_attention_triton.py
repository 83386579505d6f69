"""The Triton Shuffle Attention kernels, run by Triton's interpreter on CPU tensors.

Triton reads ``TRITON_INTERPRET`` when it is imported (its own ``tl`` helpers are ``@triton.jit``
functions, compiled or interpreted from then on) and again at every ``@triton.jit`` and launch. A
module-level ``os.environ`` here would come too late wherever another test (or torch) imported
Triton first, and would leak into every later test of the process. So the kernels run in one
worker subprocess per test module, started with ``TRITON_INTERPRET=1``, that loads the kernel
module's file and executes calls sent to it: :class:`InterpretedKernels` forwards
``sa_forward_triton`` / ``sa_backward_triton`` there and re-raises the worker's ``ValueError`` /
``TypeError``. Tensors travel through ``torch.save`` and
weights-only ``torch.load``.

The reference is written plainly from the equations in float64 with autograd for the gradients;
a second one is the SA-Net module in its paper form (GAP, GroupNorm, channel shuffle).
"""

import builtins
import importlib
import importlib.util
import io
import os
import struct
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('triton')

MODULE = 'sa_mmdet.ops.shuffle_attention_triton'
EPS = 1e-5

# The worker: loads the kernel module from its file (argv[1]) and answers requests
# (name, args, kwargs) with ('ok', result) or ('error', type name, message).
WORKER = r"""
import importlib.util, io, struct, sys
import torch

spec = importlib.util.spec_from_file_location('_sa_triton_interpreted', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

while True:
    header = stdin.read(8)
    if len(header) < 8:
        break
    name, args, kwargs = torch.load(io.BytesIO(stdin.read(struct.unpack('<Q', header)[0])),
                                    weights_only=True)
    try:
        reply = ('ok', getattr(module, name)(*args, **kwargs))
    except Exception as error:  # sent back to the test
        reply = ('error', type(error).__name__, str(error))
    buffer = io.BytesIO()
    torch.save(reply, buffer)
    stdout.write(struct.pack('<Q', buffer.tell()) + buffer.getvalue())
    stdout.flush()
"""


class InterpretedKernels:
    """``sa_forward_triton`` and ``sa_backward_triton`` run in a ``TRITON_INTERPRET=1`` worker."""

    INTERPRETED = True

    def __init__(self):
        path = importlib.util.find_spec(MODULE).origin
        env = dict(os.environ, TRITON_INTERPRET='1')
        self.proc = subprocess.Popen(
            [sys.executable, '-c', WORKER, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def _call(self, name, *args, **kwargs):
        buffer = io.BytesIO()
        torch.save((name, args, kwargs), buffer)
        self.proc.stdin.write(struct.pack('<Q', buffer.tell()) + buffer.getvalue())
        self.proc.stdin.flush()
        header = self.proc.stdout.read(8)
        if len(header) < 8:
            raise RuntimeError(f'the interpreter worker exited with {self.proc.wait()}')
        reply = torch.load(
            io.BytesIO(self.proc.stdout.read(struct.unpack('<Q', header)[0])), weights_only=True
        )
        if reply[0] == 'error':
            error = getattr(builtins, reply[1], None)
            if not (isinstance(error, type) and issubclass(error, Exception)):
                error = RuntimeError
            raise error(reply[2] if error is not RuntimeError else f'{reply[1]}: {reply[2]}')
        return reply[1]

    def sa_forward_triton(self, *args, **kwargs):
        return self._call('sa_forward_triton', *args, **kwargs)

    def sa_backward_triton(self, *args, **kwargs):
        return self._call('sa_backward_triton', *args, **kwargs)


@pytest.fixture(scope='module')
def sat():
    kernels = InterpretedKernels()
    yield kernels
    kernels.close()


def reference(x, weight, bias, eps):
    """Output, mean and rstd of the kernel contract, in float64."""
    n, c, h, w = x.shape
    params = weight.numel()
    planes = x.double().reshape(n, c, h * w)
    mean = planes.mean(-1, keepdim=True)
    var = (planes - mean).square().mean(-1, keepdim=True)
    rstd = 1 / torch.sqrt(var + eps)
    j = torch.arange(c) % params
    wj = weight.double()[j].view(1, c, 1)
    bj = bias.double()[j].view(1, c, 1)
    spatial = (j >= params // 2).view(1, c, 1)
    logit = torch.where(spatial, wj * rstd * (planes - mean) + bj, wj * mean + bj)
    y = planes * torch.sigmoid(logit)
    # the shuffle: input channel c -> output channel 2 * (c % (C / 2)) + c // (C / 2)
    y = y.view(n, 2, c // 2, h * w).transpose(1, 2)
    return y.reshape(n, c, h, w), mean.view(n, c), rstd.view(n, c)


def make_inputs(shape, params, dtype=torch.float32, seed=0, loc=0.0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=gen) + loc).to(dtype)
    weight = torch.randn(params, generator=gen)
    bias = torch.randn(params, generator=gen)
    grad = torch.randn(shape, generator=gen).to(dtype)
    return x, weight, bias, grad


def reference_grads(x, weight, bias, grad):
    """Output and gradients of x, weight and bias by float64 autograd."""
    x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, weight, bias))
    y = reference(x64, w64, b64, EPS)[0]
    y.backward(grad.double())
    return y.detach(), x64.grad, w64.grad, b64.grad


def run_kernels(sat, x, weight, bias, grad):
    out, mean, rstd = sat.sa_forward_triton(x, weight, bias, EPS)
    grads = sat.sa_backward_triton(grad, x, weight, bias, mean, rstd)
    return (out, mean, rstd, *grads)


def assert_close(actual, expected, tol, name):
    """``|actual - expected| <= tol * max|expected|`` (tolerance relative to the tensor's scale)."""
    scale = expected.abs().max().item() or 1.0
    err = (actual.double() - expected).abs().max().item()
    assert err <= tol * scale, f'{name}: max error {err:.3g} > {tol:g} * scale {scale:.3g}'


# (shape, P); under the interpreter planes of <= 64 elements take the tile kernels
# (4 planes per program) and larger ones the loop kernels (blocks of 64, 3 programs)
CASES = {
    'tile': ((2, 8, 5, 7), 4),
    'tile-hw1-n1': ((1, 12, 1, 1), 4),
    'tile-partial-row-group': ((3, 6, 3, 3), 2),
    'loop-partial-block': ((2, 8, 10, 15), 4),
    'loop-exact-blocks': ((1, 6, 8, 16), 2),
}


@pytest.mark.parametrize('case', CASES)
def test_float32_matches_reference(sat, case):
    shape, params = CASES[case]
    x, weight, bias, grad = make_inputs(shape, params)
    out, mean, rstd, dx, dw, db = run_kernels(sat, x, weight, bias, grad)
    y_ref, mean_ref, rstd_ref = reference(x, weight, bias, EPS)
    _, dx_ref, dw_ref, db_ref = reference_grads(x, weight, bias, grad)
    assert out.dtype == dx.dtype == torch.float32 and out.shape == dx.shape == x.shape
    assert mean.shape == rstd.shape == shape[:2] and dw.shape == db.shape == (params,)
    for name, actual, expected in (
        ('out', out, y_ref),
        ('mean', mean, mean_ref),
        ('rstd', rstd, rstd_ref),
        ('grad_x', dx, dx_ref),
        ('grad_weight', dw, dw_ref),
        ('grad_bias', db, db_ref),
    ):
        assert_close(actual, expected, 1e-5, name)


@pytest.mark.parametrize('dtype, tol', [(torch.float16, 4e-3), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize('case', ['tile', 'loop-partial-block'])
def test_low_precision_matches_reference(sat, case, dtype, tol):
    shape, params = CASES[case]
    x, weight, bias, grad = make_inputs(shape, params, dtype)
    out, mean, rstd, dx, dw, db = run_kernels(sat, x, weight, bias, grad)
    assert out.dtype == dx.dtype == dtype
    assert mean.dtype == rstd.dtype == dw.dtype == db.dtype == torch.float32
    # the reference sees the same rounded inputs; the error is the output rounding
    y_ref, mean_ref, rstd_ref = reference(x, weight, bias, EPS)
    _, dx_ref, dw_ref, db_ref = reference_grads(x, weight, bias, grad)
    assert_close(mean, mean_ref, 1e-5, 'mean')  # statistics in fp32 for every dtype
    assert_close(rstd, rstd_ref, 1e-5, 'rstd')
    for name, actual, expected in (
        ('out', out, y_ref),
        ('grad_x', dx, dx_ref),
        ('grad_weight', dw, dw_ref),
        ('grad_bias', db, db_ref),
    ):
        assert_close(actual, expected, tol, name)


@pytest.mark.parametrize('case', ['tile', 'loop-partial-block'])
def test_statistics_of_planes_with_a_large_mean(sat, case):
    # Rule: fp32 statistics stay exact when the plane mean is 1000 x its std (a one-pass
    # sum / sum of squares of the raw values would lose the variance).
    shape, params = CASES[case]
    x, weight, bias, _ = make_inputs(shape, params, loc=1000.0)
    _, mean, rstd = sat.sa_forward_triton(x, weight, bias, EPS)
    _, mean_ref, rstd_ref = reference(x, weight, bias, EPS)
    assert_close(mean, mean_ref, 1e-6, 'mean')
    assert (rstd.double() / rstd_ref - 1).abs().max() < 1e-5


def paper_shuffle_attention(x, groups, cweight, cbias, sweight, sbias, gn_weight, gn_bias):
    """SA-Net's module as in the paper's code: per group, channel and spatial halves, then
    concat and channel shuffle with 2 groups. Parameters have k = C / 2G elements."""
    n, c, h, w = x.shape
    k = c // (2 * groups)
    xg = x.reshape(n * groups, 2 * k, h, w)
    x0, x1 = xg[:, :k], xg[:, k:]
    view = (1, k, 1, 1)
    xn = x0 * torch.sigmoid(cweight.view(view) * x0.mean((2, 3), keepdim=True) + cbias.view(view))
    gn = F.group_norm(x1, k, gn_weight, gn_bias, EPS)
    xs = x1 * torch.sigmoid(sweight.view(view) * gn + sbias.view(view))
    out = torch.cat([xn, xs], 1).reshape(n, c, h, w)
    return out.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


@pytest.mark.parametrize(
    'groups, shape', [(2, (2, 8, 4, 5)), (4, (1, 16, 9, 9)), (64, (1, 128, 3, 3))]
)
def test_matches_sa_net_module(sat, groups, shape):
    # P = 2k: the GroupNorm affine goes into the spatial gate
    k = shape[1] // (2 * groups)
    gen = torch.Generator().manual_seed(groups)
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    cw, cb, sw, sb, gw, gb = torch.randn(6, k, generator=gen, dtype=torch.float64)
    y_ref = paper_shuffle_attention(x, groups, cw, cb, sw, sb, gw, gb)
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    y_ref.backward(grad)
    weight = torch.cat([cw, sw * gw]).float()
    bias = torch.cat([cb, sw * gb + sb]).float()
    xk = x.detach().float()
    out, mean, rstd = sat.sa_forward_triton(xk, weight, bias, EPS)
    dx = sat.sa_backward_triton(grad.float(), xk, weight, bias, mean, rstd)[0]
    assert_close(out, y_ref.detach(), 1e-5, 'out')
    assert_close(dx, x.grad, 1e-5, 'grad_x')


@pytest.mark.parametrize('case', ['tile', 'loop-partial-block'])
def test_two_runs_are_bit_identical(sat, case):
    shape, params = CASES[case]
    x, weight, bias, grad = make_inputs(shape, params)
    first = run_kernels(sat, x, weight, bias, grad)
    second = run_kernels(sat, x, weight, bias, grad)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize('case', ['tile', 'loop-partial-block'])
@pytest.mark.parametrize('expanded_from', [(), (1, 1, 1, 1), 'one-plane'])
def test_gradient_expanded_from_one_plane_equals_its_dense_copy(sat, case, expanded_from):
    # Rule: a gradient expanded from one plane over N and C (y.sum().backward()) is read as that
    # plane, bit-identical to its dense copy.
    shape, params = CASES[case]
    x, weight, bias, _ = make_inputs(shape, params)
    plane = torch.randn(shape[2:]) if expanded_from == 'one-plane' else torch.randn(expanded_from)
    grad = plane.expand(shape)
    assert grad.stride()[:2] == (0, 0)
    expected = run_kernels(sat, x, weight, bias, grad.contiguous())
    got = run_kernels(sat, x, weight, bias, grad)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    assert_close(got[3], reference_grads(x, weight, bias, grad)[1], 1e-5, 'grad_x')


def test_bad_inputs_raise(sat):
    x, weight, bias, grad = make_inputs((2, 8, 3, 3), 4)
    fwd, bwd = sat.sa_forward_triton, sat.sa_backward_triton
    # dtype of x: float32, float16 or bfloat16
    with pytest.raises(TypeError, match='float32, float16 or bfloat16'):
        fwd(x.double(), weight, bias, EPS)
    # weight and bias are float32 for every dtype of x
    with pytest.raises(TypeError, match='weight must be float32'):
        fwd(x, weight.half(), bias, EPS)
    # x is (N, C, H, W), non-empty and contiguous
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        fwd(x[0], weight, bias, EPS)
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        fwd(x[:0], weight, bias, EPS)
    with pytest.raises(ValueError, match='x must be contiguous'):
        fwd(x.transpose(2, 3), weight, bias, EPS)
    # all tensors on the device of x
    with pytest.raises(ValueError, match='weight must be on the device of x'):
        fwd(x, weight.to('meta'), bias, EPS)
    # P even, C % P == 0, bias of the size of weight
    with pytest.raises(ValueError, match='C % P == 0'):
        fwd(x, weight[:3], bias[:3], EPS)
    with pytest.raises(ValueError, match='C % P == 0'):
        fwd(x, torch.zeros(16), torch.zeros(16), EPS)
    with pytest.raises(ValueError, match='C % P == 0'):
        fwd(x, weight, bias[:2], EPS)
    # backward: grad_out like x, mean / rstd the (N, C) float32 statistics
    _, mean, rstd = fwd(x, weight, bias, EPS)
    with pytest.raises(ValueError, match='grad_out must have the shape and dtype of x'):
        bwd(grad.half(), x, weight, bias, mean, rstd)
    with pytest.raises(ValueError, match=r'mean must be the float32 \(N, C\)'):
        bwd(grad, x, weight, bias, mean.view(-1), rstd)
    with pytest.raises(ValueError, match=r'rstd must be the float32 \(N, C\)'):
        bwd(grad, x, weight, bias, mean, rstd.double())


def test_compiled_kernels_refuse_cpu_tensors():
    # Rule: without the interpreter the kernels need CUDA tensors; checked before any launch,
    # so this runs without a GPU (in this process, where Triton compiles).
    compiled = importlib.import_module(MODULE)
    if compiled.INTERPRETED:
        pytest.skip('TRITON_INTERPRET=1 is set for the whole test process')
    x, weight, bias, _ = make_inputs((1, 4, 2, 2), 2)
    with pytest.raises(ValueError, match='x must be a CUDA tensor'):
        compiled.sa_forward_triton(x, weight, bias, EPS)


def test_tuning_cache_launches_the_tuned_config():
    # Rule: the first call of a key tunes; later ones launch the plain kernel with the config
    # the autotuner chose. Checked with stand-in kernels, so it runs without a GPU.
    module = importlib.import_module(MODULE)
    calls = []

    class Kernel:
        def __init__(self, name):
            self.name, self.best_config = name, module.triton.Config({'ROWS': 2}, num_warps=4)

        def __getitem__(self, grid):
            return lambda *args, **kwargs: calls.append((self.name, args, kwargs))

    x = torch.zeros(4)
    key = ('test', object())
    for _ in range(3):
        module._launch(Kernel('plain'), Kernel('tuned'), key, None, (x, x, 1), A=1)
    del module._BEST[key]
    (tune, tune_args, _), (first, first_args, kwargs), (second, _, _) = calls
    assert tune == 'tuned' and tune_args[1] is x
    assert first == second == 'plain' and first_args[1] is x
    assert kwargs['ROWS'] == 2 and kwargs['num_warps'] == 4 and kwargs['A'] == 1
