"""EfficientChannelAttention against a plain ECA reference (Wang et al., arXiv 1910.03151)."""

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from sa_mmdet.models.layers.eca_layer import EfficientChannelAttention, eca_kernel_size


def eca_reference(x, weight):
    """ECA: s_c = sigmoid(sum_j w_j z_{c + j - k // 2}), z the per-channel mean, zero outside.

    Written channel by channel; out = x * s.
    """
    n, c = x.shape[:2]
    k = weight.numel()
    outs = []
    for i in range(n):
        z = [x[i, ch].mean() for ch in range(c)]
        channels = []
        for ch in range(c):
            logit = sum(
                weight[j] * z[ch + j - k // 2] for j in range(k) if 0 <= ch + j - k // 2 < c
            )
            channels.append(x[i, ch] * torch.sigmoid(logit))
        outs.append(torch.stack(channels))
    return torch.stack(outs)


@pytest.mark.parametrize('kernel_size', [None, 3, 9])
def test_matches_reference_forward_and_gradients(kernel_size):
    eca = EfficientChannelAttention(12, kernel_size=kernel_size).double()
    with torch.no_grad():
        eca.conv.weight.copy_(torch.randn(eca.conv.weight.shape, dtype=torch.float64))
    x = torch.randn(2, 12, 4, 5, dtype=torch.float64, requires_grad=True)
    out = eca(x)
    ref = eca_reference(x, eca.conv.weight.flatten())
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    upstream = torch.randn_like(out)
    inputs = [x, eca.conv.weight]
    for g, e in zip(
        torch.autograd.grad(out, inputs, upstream), torch.autograd.grad(ref, inputs, upstream)
    ):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_adaptive_kernel_size():
    # k = |log2(C) / 2 + 1 / 2|_odd, int() then +1 if even, as the official code.
    assert [eca_kernel_size(c) for c in (256, 512, 1024, 2048)] == [5, 5, 5, 7]
    assert [EfficientChannelAttention(c).kernel_size for c in (256, 2048)] == [5, 7]
    assert eca_kernel_size(64) == 3 and eca_kernel_size(1) == 1
    assert eca_kernel_size(256, gamma=1, beta=2) == 11
    eca = EfficientChannelAttention(2048)
    assert eca.conv.bias is None and sum(p.numel() for p in eca.parameters()) == 7
    assert EfficientChannelAttention(256, kernel_size=3).kernel_size == 3


def test_plugin_name_and_registry():
    assert EfficientChannelAttention._abbr_ == 'eca'  # official ECA-Net attribute name
    with DefaultScope.overwrite_default_scope('mmdet'):
        eca = MODELS.build(dict(type='EfficientChannelAttention', in_channels=64))
    x = torch.rand(2, 64, 3, 3, requires_grad=True)
    eca(x).sum().backward()
    assert eca.conv.weight.grad is not None


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(kernel_size=4),
        dict(kernel_size=0),
        dict(kernel_size=-3),
        dict(kernel_size=2.0),
        dict(kernel_size=True),
    ],
)
def test_bad_kernel_size_raises_value_error(kwargs):
    # Rule: an odd integer kernel size >= 1 keeps the channel count.
    with pytest.raises(ValueError, match='needs an odd kernel_size >= 1'):
        EfficientChannelAttention(64, **kwargs)


@pytest.mark.parametrize(
    'kwargs,match', [(dict(gamma=0), 'needs gamma > 0'), (dict(gamma=-2), 'needs gamma > 0')]
)
def test_bad_gamma_raises_value_error(kwargs, match):
    # Rule: the adaptive rule divides by gamma > 0.
    with pytest.raises(ValueError, match=match):
        EfficientChannelAttention(64, **kwargs)


def test_bad_in_channels_raises_value_error():
    # Rule: at least one channel.
    with pytest.raises(ValueError, match='needs in_channels >= 1'):
        EfficientChannelAttention(0)
