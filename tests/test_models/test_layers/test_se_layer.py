"""SqueezeExcitation against a plain SENet reference (Hu et al., arXiv 1709.01507)."""

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from sa_mmdet.models.layers.se_layer import SqueezeExcitation


def se_reference(x, w1, b1, w2, b2):
    """SENet: s = sigmoid(W2 relu(W1 z + b1) + b2), z the per-channel mean; out = x * s.

    Written per sample and channel with matrix-vector products; biases may be None.
    """
    n, c = x.shape[:2]
    outs = []
    for i in range(n):
        z = torch.stack([x[i, ch].mean() for ch in range(c)])
        hidden = w1 @ z + (0 if b1 is None else b1)
        s = torch.sigmoid(w2 @ torch.relu(hidden) + (0 if b2 is None else b2))
        outs.append(torch.stack([x[i, ch] * s[ch] for ch in range(c)]))
    return torch.stack(outs)


def randomize(module, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


@pytest.mark.parametrize('bias', [True, False])
def test_matches_reference_forward_and_gradients(bias):
    se = SqueezeExcitation(32, ratio=4, bias=bias).double()
    randomize(se)
    x = torch.randn(2, 32, 5, 6, dtype=torch.float64, requires_grad=True)
    out = se(x)
    params = [se.conv1.conv.weight, se.conv2.conv.weight]
    w1, w2 = (p.view(p.shape[0], p.shape[1]) for p in params)
    b1, b2 = (se.conv1.conv.bias, se.conv2.conv.bias) if bias else (None, None)
    ref = se_reference(x, w1, b1, w2, b2)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    upstream = torch.randn_like(out)
    inputs = [x, *se.parameters()]
    got = torch.autograd.grad(out, inputs, upstream)
    expected = torch.autograd.grad(ref, inputs, upstream)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_defaults_and_parameter_count():
    se = SqueezeExcitation(256)
    # SENet: reduction 16, FC biases: 2 * C * C / 16 + C / 16 + C parameters.
    assert tuple(se.conv1.conv.weight.shape) == (16, 256, 1, 1)
    assert tuple(se.conv2.conv.weight.shape) == (256, 16, 1, 1)
    assert sum(p.numel() for p in se.parameters()) == 2 * 256 * 16 + 16 + 256
    no_bias = SqueezeExcitation(256, bias=False)
    assert no_bias.conv1.conv.bias is None and no_bias.conv2.conv.bias is None
    assert sum(p.numel() for p in no_bias.parameters()) == 2 * 256 * 16
    # Hidden width is in_channels // ratio, as mmdet's and SENet's.
    assert SqueezeExcitation(40, ratio=16).conv1.conv.out_channels == 2


def test_plugin_name_and_registry():
    assert SqueezeExcitation._abbr_ == 'se_layer'  # mmpretrain's SEResNet attribute name
    with DefaultScope.overwrite_default_scope('mmdet'):
        se = MODELS.build(dict(type='SqueezeExcitation', in_channels=64, ratio=8))
    assert isinstance(se, SqueezeExcitation) and se.conv1.conv.out_channels == 8
    x = torch.rand(2, 64, 3, 3, requires_grad=True)
    se(x).sum().backward()
    assert all(p.grad is not None for p in se.parameters())


@pytest.mark.parametrize('in_channels,ratio', [(16, 32), (8, 0), (8, -1), (0, 1)])
def test_bad_hyper_parameters_raise_value_error(in_channels, ratio):
    # Rule: 1 <= ratio <= in_channels, so the hidden layer keeps at least one channel.
    with pytest.raises(ValueError, match='needs 1 <= ratio <= in_channels'):
        SqueezeExcitation(in_channels, ratio=ratio)
