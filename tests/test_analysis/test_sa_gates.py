import pytest
import torch
from mmdet.models.backbones import ResNet

from analysis_lib.sa_gates import find_sa_layers, sa_gates
from sa_mmdet.models import SAResNet, ShuffleAttention


def gated_output(x, gates, groups):
    """Rebuild SA's output from its gates, channel by channel (no reshapes)."""
    c = x.shape[1]
    k = c // (2 * groups)
    attended = []
    for g in range(groups):
        for j in range(k):
            attended.append(x[:, 2 * g * k + j] * gates.channel[:, g, j, None, None])
        for j in range(k):
            attended.append(x[:, 2 * g * k + k + j] * gates.spatial[:, g, j])
    # Pre-shuffle channel i is group i // 2k's, half (i % 2k) // k; shuffle with 2 groups.
    return torch.stack([attended[(i % 2) * (c // 2) + i // 2] for i in range(c)], dim=1)


@pytest.mark.parametrize(
    'shape,groups', [((2, 256, 7, 9), 64), ((3, 64, 5, 4), 8), ((1, 24, 6, 6), 3)]
)
def test_gates_reproduce_the_layer_and_the_paper(shape, groups, randomize_sa, sa_reference):
    gen = torch.Generator().manual_seed(0)
    sa = ShuffleAttention(shape[1], groups=groups).double()
    randomize_sa(sa, gen)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)

    gates = sa_gates(sa, x)
    k = shape[1] // (2 * groups)
    assert gates.channel.shape == (shape[0], groups, k)
    assert gates.spatial.shape == (shape[0], groups, k, *shape[2:])
    rebuilt = gated_output(x, gates, groups)
    torch.testing.assert_close(rebuilt, sa(x), rtol=1e-10, atol=1e-12)
    expected = sa_reference(sa, x)
    torch.testing.assert_close(rebuilt, expected, rtol=1e-10, atol=1e-12)


def test_gates_at_init_are_sigmoid_one():
    # cw = sw = 0 and cb = sb = 1: every gate is sigmoid(1) whatever the input.
    gates = sa_gates(ShuffleAttention(128, groups=16), torch.randn(2, 128, 3, 5))
    sigmoid_one = torch.sigmoid(torch.tensor(1.0)).item()
    torch.testing.assert_close(gates.channel, torch.full((2, 16, 4), sigmoid_one))
    torch.testing.assert_close(gates.spatial, torch.full((2, 16, 4, 3, 5), sigmoid_one))


def test_gates_of_a_backbone_layer_from_a_forward_hook(randomize_sa):
    torch.manual_seed(0)
    model = SAResNet(depth=50, out_indices=(0,)).eval()
    sa = model.layer1[2].sa
    randomize_sa(sa, torch.Generator().manual_seed(1))
    seen = {}
    # Clone: the bottleneck adds the identity to SA's output in place.
    sa.register_forward_hook(
        lambda module, args, out: seen.update(x=args[0].clone(), out=out.clone())
    )
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 48))
        gates = sa_gates(sa, seen['x'])
    assert gates.spatial.shape == (1, 64, 2, 16, 12)
    torch.testing.assert_close(gated_output(seen['x'], gates, 64), seen['out'])


def test_wrong_input_raises():
    sa = ShuffleAttention(64, groups=8)
    # The input must be (N, C, H, W) ...
    with pytest.raises(ValueError, match='N, C, H, W'):
        sa_gates(sa, torch.randn(64, 4, 4))
    # ... with the layer's channel count.
    with pytest.raises(ValueError, match='expects 2 \\* groups \\* k'):
        sa_gates(sa, torch.randn(1, 32, 4, 4))


def test_find_sa_layers_names_every_bottleneck():
    layers = find_sa_layers(SAResNet(depth=50))
    blocks = (3, 4, 6, 3)
    assert list(layers) == [f'layer{s + 1}.{b}.sa' for s, n in enumerate(blocks) for b in range(n)]
    assert all(isinstance(layer, ShuffleAttention) for layer in layers.values())
    assert find_sa_layers(ResNet(depth=50)) == {}
