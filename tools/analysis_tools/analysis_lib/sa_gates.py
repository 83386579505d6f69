"""The attention gates of a Shuffle Attention layer, for inspection (SA-Net's Fig. 4/5)."""

from typing import Dict, NamedTuple

import torch
import torch.nn as nn
from torch import Tensor

# the official SA layer's parameters (SA-Net's sa_resnet.py and ShuffleAttention)
SA_PARAMETERS = ('cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias')


def is_sa_layer(module: nn.Module) -> bool:
    """Whether ``module`` has ``groups`` and the official SA layer's parameters as its own."""
    params = dict(module.named_parameters())
    return hasattr(module, 'groups') and all(name in params for name in SA_PARAMETERS)


def find_sa_layers(model: nn.Module) -> Dict[str, nn.Module]:
    """Every Shuffle Attention layer of a model, by qualified name, in module order.

    Args:
        model (nn.Module): A model, e.g. an SA-ResNet or a detector using one.

    Returns:
        dict[str, nn.Module]: E.g. ``{'backbone.layer1.0.sa': layer, ...}``.
    """
    return {name: module for name, module in model.named_modules() if is_sa_layer(module)}


class SAGates(NamedTuple):
    """Gates a Shuffle Attention layer multiplies its input halves with.

    With ``k = C / (2 * G)``, group ``g`` owns channels ``[2gk, 2gk + k)`` (channel half) and
    ``[2gk + k, 2(g + 1)k)`` (spatial half); the layer's output is
    ``channel_shuffle(cat(channel_half * channel, spatial_half * spatial), 2)``.

    Attributes:
        channel (Tensor): ``sigmoid(cweight * GAP(x) + cbias)``, shape (N, G, k).
        spatial (Tensor): ``sigmoid(sweight * GN(x) + sbias)``, shape (N, G, k, H, W).
    """

    channel: Tensor
    spatial: Tensor


def sa_gates(module: nn.Module, x: Tensor) -> SAGates:
    """Compute the channel and spatial gates a Shuffle Attention layer applies.

    Uses only the layer's parameters and ``groups``, so it works for any implementation of
    :class:`~sa_mmdet.models.ShuffleAttention`.

    Args:
        module (nn.Module): A Shuffle Attention layer.
        x (Tensor): The layer's input, shape (N, C, H, W).

    Returns:
        SAGates: The gates, values in (0, 1).

    """
    if x.dim() != 4:
        raise ValueError(f'sa_gates needs an (N, C, H, W) input, but got shape {tuple(x.shape)}.')
    n, c, h, w = x.shape
    groups = module.groups
    k = module.cweight.numel()
    if c != 2 * groups * k:
        raise ValueError(
            f'input has {c} channels but the SA layer expects 2 * groups * k = '
            f'2 * {groups} * {k} = {2 * groups * k}; pass the input of this layer.'
        )
    halves = x.reshape(n, groups, 2, k, h, w)
    x_channel, x_spatial = halves[:, :, 0], halves[:, :, 1]

    gap = x_channel.mean((3, 4))  # (N, G, k)
    channel = torch.sigmoid(module.cweight.reshape(k) * gap + module.cbias.reshape(k))

    normed = module.gn(x_spatial.reshape(n * groups, k, h, w)).reshape(n, groups, k, h, w)
    spatial = torch.sigmoid(
        module.sweight.reshape(k, 1, 1) * normed + module.sbias.reshape(k, 1, 1)
    )
    return SAGates(channel, spatial)
