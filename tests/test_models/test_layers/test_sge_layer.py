"""SpatialGroupEnhance against a plain SGE reference (Li et al., arXiv 1905.09646)."""

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from sa_mmdet.models.layers.sge_layer import SpatialGroupEnhance


def sge_reference(x, weight, bias, groups, eps=1e-5):
    """SGE, per sample and group g of channels [g * C / G, (g + 1) * C / G):

    c_p = sum_ch x_ch[p] * mean(x_ch) at every position p;
    t_p = (c_p - mean(c)) / (unbiased std(c) + eps); a_p = t_p * weight_g + bias_g;
    out_ch[p] = x_ch[p] * sigmoid(a_p).
    """
    n, c, h, w = x.shape
    per_group = c // groups
    outs = []
    for i in range(n):
        channels = []
        for g in range(groups):
            members = [x[i, g * per_group + j] for j in range(per_group)]
            importance = sum(m * m.mean() for m in members)
            centred = importance - importance.mean()
            std = torch.sqrt((centred**2).sum() / (h * w - 1))
            gate = torch.sigmoid(centred / (std + eps) * weight[g] + bias[g])
            channels.extend(m * gate for m in members)
        outs.append(torch.stack(channels))
    return torch.stack(outs)


@pytest.mark.parametrize('groups', [4, 1, 12])
def test_matches_reference_forward_and_gradients(groups):
    sge = SpatialGroupEnhance(12, groups=groups).double()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        sge.weight.copy_(torch.randn(sge.weight.shape, generator=gen, dtype=torch.float64))
        sge.bias.copy_(torch.randn(sge.bias.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(2, 12, 4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    out = sge(x)
    ref = sge_reference(x, sge.weight.flatten(), sge.bias.flatten(), groups)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    upstream = torch.randn_like(out)
    inputs = [x, sge.weight, sge.bias]
    for g, e in zip(
        torch.autograd.grad(out, inputs, upstream), torch.autograd.grad(ref, inputs, upstream)
    ):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_defaults_and_official_names():
    sge = SpatialGroupEnhance(256)
    # 64 groups; one weight (init 0) and one bias (init 1) per group, shaped as the official code.
    assert sge.groups == 64 and SpatialGroupEnhance._abbr_ == 'sge'
    assert tuple(sge.weight.shape) == (1, 64, 1, 1) and torch.all(sge.weight == 0)
    assert tuple(sge.bias.shape) == (1, 64, 1, 1) and torch.all(sge.bias == 1)
    assert sorted(sge.state_dict()) == ['bias', 'weight']


def test_channels_last_input():
    sge = SpatialGroupEnhance(64, groups=8)
    with torch.no_grad():
        sge.weight.normal_()
    x = torch.randn(2, 64, 5, 5)
    torch.testing.assert_close(sge(x.to(memory_format=torch.channels_last)), sge(x))


def test_registry_and_gradients():
    with DefaultScope.overwrite_default_scope('mmdet'):
        sge = MODELS.build(dict(type='SpatialGroupEnhance', in_channels=64, groups=16))
    x = torch.rand(2, 64, 3, 3, requires_grad=True)
    sge(x).sum().backward()
    assert sge.weight.grad is not None and sge.bias.grad is not None


@pytest.mark.parametrize('in_channels,groups', [(100, 64), (64, 0), (64, -8), (0, 1)])
def test_bad_groups_raise_value_error(in_channels, groups):
    # Rule: groups >= 1 must divide in_channels.
    with pytest.raises(ValueError, match='needs in_channels divisible by groups'):
        SpatialGroupEnhance(in_channels, groups=groups)


def test_single_position_raises_value_error():
    # Rule: the importance is normalised over H * W positions; one position has no spread.
    with pytest.raises(ValueError, match='needs at least 2'):
        SpatialGroupEnhance(64)(torch.rand(1, 64, 1, 1))
