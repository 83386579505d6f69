"""CBAM against a plain reference of its equations (Woo et al., arXiv 1807.06521)."""

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from sa_mmdet.models.layers.cbam import CBAM


def cbam_reference(x, w1, b1, w2, b2, conv_w, bn_w, bn_b, bn_mean=None, bn_var=None, eps=1e-5):
    """CBAM with a shared MLP and a 2 -> 1 spatial conv followed by BatchNorm.

    channel: s = sigmoid(MLP(avg_c) + MLP(max_c)), MLP(v) = W2 relu(W1 v + b1) + b2; x' = x * s.
    spatial: m = [max over channels; mean over channels] of x', a zero-padded k x k
    cross-correlation, BatchNorm (given running stats, else the batch's, biased variance),
    out = x' * sigmoid(.). Written per sample, channel and kernel offset.
    """
    n, c, h, w = x.shape
    k = conv_w.shape[-1]
    mlp = lambda v: w2 @ torch.relu(w1 @ v + b1) + b2  # noqa: E731
    gated = []
    for i in range(n):
        avg = torch.stack([x[i, ch].mean() for ch in range(c)])
        mx = torch.stack([x[i, ch].max() for ch in range(c)])
        s = torch.sigmoid(mlp(avg) + mlp(mx))
        gated.append(torch.stack([x[i, ch] * s[ch] for ch in range(c)]))
    gated = torch.stack(gated)
    conv_out = []
    for i in range(n):
        maps = [gated[i].max(dim=0).values, gated[i].mean(dim=0)]
        padded = [torch.nn.functional.pad(m, (k // 2,) * 4) for m in maps]
        y = sum(
            conv_w[0, ch, u, v] * padded[ch][u : u + h, v : v + w]
            for ch in range(2)
            for u in range(k)
            for v in range(k)
        )
        conv_out.append(y)
    conv_out = torch.stack(conv_out)
    if bn_mean is None:
        bn_mean = conv_out.mean()
        bn_var = ((conv_out - bn_mean) ** 2).mean()
    normed = (conv_out - bn_mean) / torch.sqrt(bn_var + eps) * bn_w + bn_b
    return gated * torch.sigmoid(normed)[:, None]


def randomize(module, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
        norm = module.spatial_conv.norm
        norm.running_mean.copy_(torch.randn(1, generator=gen, dtype=torch.float64))
        norm.running_var.copy_(torch.rand(1, generator=gen, dtype=torch.float64) + 0.5)


@pytest.mark.parametrize('training', [False, True])
@pytest.mark.parametrize('kernel_size', [7, 3])
def test_matches_reference_forward_and_gradients(training, kernel_size):
    cbam = CBAM(32, ratio=4, kernel_size=kernel_size).double().train(training)
    randomize(cbam)
    x = torch.randn(2, 32, 6, 5, dtype=torch.float64, requires_grad=True)
    norm = cbam.spatial_conv.norm
    stats = (None, None) if training else (norm.running_mean.clone(), norm.running_var.clone())
    out = cbam(x)
    fc1, fc2 = cbam.channel_mlp[0], cbam.channel_mlp[2]
    ref = cbam_reference(
        x,
        fc1.weight,
        fc1.bias,
        fc2.weight,
        fc2.bias,
        cbam.spatial_conv.conv.weight,
        norm.weight,
        norm.bias,
        *stats,
    )
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    upstream = torch.randn_like(out)
    inputs = [x, *cbam.parameters()]
    for g, e in zip(
        torch.autograd.grad(out, inputs, upstream), torch.autograd.grad(ref, inputs, upstream)
    ):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_defaults_parameter_count_and_official_init():
    cbam = CBAM(256)
    # Shared MLP 256 -> 16 -> 256 with biases; 7x7 conv 2 -> 1 without bias; BN(1) affine.
    assert cbam.channel_mlp[0].out_features == 16 and cbam.channel_mlp[0].bias is not None
    conv = cbam.spatial_conv.conv
    assert tuple(conv.weight.shape) == (1, 2, 7, 7) and conv.bias is None
    norm = cbam.spatial_conv.norm
    assert norm.momentum == 0.01 and norm.eps == 1e-5
    assert sum(p.numel() for p in cbam.parameters()) == 2 * 256 * 16 + 16 + 256 + 98 + 2
    cbam.init_weights()
    assert torch.all(norm.weight == 0) and torch.all(norm.bias == 0)
    assert torch.all(cbam.channel_mlp[0].bias == 0) and torch.all(cbam.channel_mlp[2].bias == 0)
    assert CBAM._abbr_ == 'cbam'


def test_init_cfg_is_not_overridden():
    cbam = CBAM(64, init_cfg=dict(type='Constant', val=0.5, bias=0.25, layer='Linear'))
    cbam.init_weights()
    # A user init_cfg replaces the official init: its Linear values stay, BN stays at 1.
    assert torch.all(cbam.channel_mlp[0].weight == 0.5)
    assert torch.all(cbam.channel_mlp[2].bias == 0.25)
    assert torch.all(cbam.spatial_conv.norm.weight == 1)


def test_registry_and_gradients():
    with DefaultScope.overwrite_default_scope('mmdet'):
        cbam = MODELS.build(dict(type='CBAM', in_channels=64, ratio=8))
    x = torch.rand(2, 64, 4, 4, requires_grad=True)
    cbam(x).sum().backward()
    assert all(p.grad is not None for p in cbam.parameters())


@pytest.mark.parametrize('in_channels,ratio', [(16, 32), (8, 0), (0, 1)])
def test_bad_ratio_raises_value_error(in_channels, ratio):
    # Rule: 1 <= ratio <= in_channels, so the MLP keeps at least one hidden unit.
    with pytest.raises(ValueError, match='needs 1 <= ratio <= in_channels'):
        CBAM(in_channels, ratio=ratio)


@pytest.mark.parametrize('kernel_size', [6, 0, 7.0])
def test_bad_kernel_size_raises_value_error(kernel_size):
    # Rule: an odd integer kernel keeps the spatial size.
    with pytest.raises(ValueError, match='needs an odd spatial kernel_size'):
        CBAM(64, kernel_size=kernel_size)
