"""The attention gates of a Shuffle Attention layer, for inspection.

Paper: `SA-Net: Shuffle Attention for Deep Convolutional Neural Networks`
(https://arxiv.org/abs/2102.00240), Fig. 4/5 look at what these gates select.
"""

from typing import Dict, NamedTuple

import torch
import torch.nn as nn
from torch import Tensor

# the official SA layer's parameters (SA-Net's sa_resnet.py and ShuffleAttention)
SA_PARAMETERS = ('cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias')


def is_sa_layer(module: nn.Module) -> bool:
    """Whether ``module`` is a Shuffle Attention layer (by its parameters).

    Args:
        module (nn.Module): Any module.

    Returns:
        bool: True if it has ``groups`` and the parameters of the official
        SA layer (``cweight``, ..., ``gn.bias``), as its own.
    """
    params = dict(module.named_parameters())
    return hasattr(module, 'groups') and all(name in params for name in SA_PARAMETERS)


def find_sa_layers(model: nn.Module) -> Dict[str, nn.Module]:
    """Every Shuffle Attention layer of a model, by qualified name.

    Args:
        model (nn.Module): A model, e.g. an SA-ResNet or a detector using one.

    Returns:
        dict[str, nn.Module]: ``{'backbone.layer1.0.sa': layer, ...}`` in
        module order.
    """
    return {name: module for name, module in model.named_modules() if is_sa_layer(module)}


class SAGates(NamedTuple):
    """Gates a Shuffle Attention layer multiplies its input halves with.

    With ``k = C / (2 * G)``, group ``g`` of the input owns channels
    ``[2gk, 2gk + k)`` (channel half) and ``[2gk + k, 2(g + 1)k)`` (spatial
    half); the layer's output is
    ``channel_shuffle(cat(channel_half * channel, spatial_half * spatial), 2)``.

    Attributes:
        channel (Tensor): ``sigmoid(cweight * GAP(x) + cbias)``, shape
            (N, G, k): one gate per channel of each group's channel half.
        spatial (Tensor): ``sigmoid(sweight * GN(x) + sbias)``, shape
            (N, G, k, H, W): one gate per position and channel of each
            group's spatial half.
    """

    channel: Tensor
    spatial: Tensor


def sa_gates(module: nn.Module, x: Tensor) -> SAGates:
    """Compute the channel and spatial gates a Shuffle Attention layer applies.

    Mirrors the layer's math using only its parameters (``cweight``,
    ``cbias``, ``sweight``, ``sbias``, ``gn``) and ``groups``, so it works for
    any implementation of :class:`~sa_mmdet.models.ShuffleAttention`.

    Args:
        module (nn.Module): A Shuffle Attention layer.
        x (Tensor): The layer's input, shape (N, C, H, W).

    Returns:
        SAGates: ``channel`` of shape (N, G, k) and ``spatial`` of shape
        (N, G, k, H, W), ``k = C / (2 * G)``, values in (0, 1).

    Example:
        >>> import torch
        >>> from sa_mmdet.models import ShuffleAttention
        >>> gates = sa_gates(ShuffleAttention(256, groups=64), torch.rand(2, 256, 8, 8))
        >>> tuple(gates.channel.shape), tuple(gates.spatial.shape)
        ((2, 64, 2), (2, 64, 2, 8, 8))
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
