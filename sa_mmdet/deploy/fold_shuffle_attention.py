"""Fold the channel shuffle of every Shuffle Attention into conv3/bn3.

In an SA-ResNet bottleneck ``conv3 -> bn3 -> sa -> (+ identity) -> relu``,
SA is a per-channel operation followed by a fixed channel permutation
``perm`` (output channel ``i`` is pre-shuffle channel
``perm[i] = (i % 2) * C / 2 + i // 2``). conv3 and an (eval or train)
BatchNorm are per-output-channel, so taking their output channels in the
order ``perm`` makes bn3 emit the pre-shuffle channels already shuffled.
:class:`~sa_mmdet.models.layers.FoldedShuffleAttention` then gates channel
``i`` with the parameters of pre-shuffle channel ``perm[i]`` and writes it in
place: SA's output, and so the residual sum with the untouched identity, is
exactly the unfolded one.
"""

import copy

import torch
import torch.nn as nn
from mmdet.models.backbones.resnet import Bottleneck
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.layers import FoldedShuffleAttention, ShuffleAttention
from ..ops import check_sa_groups


def _shuffle_permutation(channels: int) -> torch.Tensor:
    """``perm[i]``: the pre-shuffle channel that the shuffle puts at ``i``."""
    return torch.arange(channels).view(2, channels // 2).t().reshape(-1)


def _fold_block(block: Bottleneck, name: str) -> None:
    sa_name = block.after_conv3_plugin_names[0]
    sa = getattr(block, sa_name)
    conv, norm = block.conv3, block.norm3
    check_sa_groups(sa.in_channels, sa.groups, even=True, name=f'folding {name}.{sa_name}')
    if not isinstance(norm, _BatchNorm) or not isinstance(conv, nn.Conv2d):
        raise ValueError(
            f'cannot fold {name}.{sa_name}: it must follow a plain Conv2d and a '
            f'BatchNorm, but follows {type(conv).__name__} and '
            f'{type(norm).__name__}.'
        )
    perm = _shuffle_permutation(sa.in_channels).to(conv.weight.device)
    with torch.no_grad():
        for tensor in (
            conv.weight,
            conv.bias,
            norm.weight,
            norm.bias,
            norm.running_mean,
            norm.running_var,
        ):
            if tensor is not None:
                tensor.copy_(tensor[perm])
    setattr(block, sa_name, FoldedShuffleAttention.from_shuffle_attention(sa, inplace=True))


def fold_shuffle_attention(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold the channel shuffle of every Shuffle Attention into conv3/bn3.

    Works on an :class:`~sa_mmdet.models.SAResNet` or on any model holding
    one (e.g. an mmdet detector). The result computes the same outputs with
    no shuffle copy, and at inference SA overwrites bn3's output instead of
    allocating a new tensor. Its state dict differs (conv3/bn3 permuted, SA
    parameters per channel as ``sa.weight``/``sa.bias``), so save and load the
    unfolded model and fold after loading.

    Args:
        model (nn.Module): Model whose ResNet bottlenecks carry
            :class:`~sa_mmdet.models.ShuffleAttention` as their first
            ``after_conv3`` plugin.
        inplace (bool): Modify ``model`` itself instead of a deep copy.
            Defaults to False.

    Returns:
        nn.Module: The folded model.

    Raises:
        ValueError: If the model has no such Shuffle Attention, or one cannot
            be folded (odd groups, conv3/bn3 not a Conv2d and a BatchNorm).
    """
    if not inplace:
        model = copy.deepcopy(model)
    blocks = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, Bottleneck)
        and getattr(module, 'with_plugins', False)
        and module.after_conv3_plugin_names
        and isinstance(getattr(module, module.after_conv3_plugin_names[0]), ShuffleAttention)
    ]
    if not blocks:
        raise ValueError(
            f'found no ShuffleAttention right after conv3/bn3 of a ResNet '
            f'bottleneck in {type(model).__name__}; nothing to fold.'
        )
    for name, block in blocks:
        _fold_block(block, name)
    return model
