"""Shuffle Attention (SA) layer.

Paper: `SA-Net: Shuffle Attention for Deep Convolutional Neural Networks`,
Qing-Long Zhang and Yu-Bin Yang, ICASSP 2021 (https://arxiv.org/abs/2102.00240).
"""
from typing import List

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from torch import Tensor

from .shuffle_attention_function import sa_gate_params, shuffle_attention

SA_IMPLEMENTATIONS = ('fast', 'reference')


def valid_sa_groups(in_channels: int) -> List[int]:
    """Group counts ``G`` for which ``in_channels`` splits into 2 * G halves.

    Args:
        in_channels (int): Number of input channels ``C``.

    Returns:
        list[int]: Every ``G`` with ``C % (2 * G) == 0``, ascending.
    """
    return [g for g in range(1, in_channels // 2 + 1) if in_channels % (2 * g) == 0]


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` equal channel blocks (ShuffleNet).

    Args:
        x (Tensor): Input of shape (N, C, H, W), C divisible by ``groups``.
        groups (int): Number of channel blocks to interleave.

    Returns:
        Tensor: Output of the same shape as ``x``.
    """
    n, c, h, w = x.shape
    x = x.reshape(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


def _check_implementation(implementation: str) -> None:
    if implementation not in SA_IMPLEMENTATIONS:
        raise ValueError(f'invalid implementation {implementation!r} for ShuffleAttention: '
                         f'use one of {SA_IMPLEMENTATIONS}.')


@MODELS.register_module()
class ShuffleAttention(nn.Module):
    """Shuffle Attention: channel and spatial attention on shuffled groups.

    The ``C`` input channels are split into ``groups`` sub-features; each
    sub-feature is split in two halves of ``C / (2 * groups)`` channels:

    - channel half: ``x * sigmoid(cweight * GAP(x) + cbias)``;
    - spatial half: ``x * sigmoid(sweight * GN(x) + sbias)``, with a GroupNorm
      of one channel per group.

    The halves are concatenated and the channels shuffled with 2 groups. The
    parameters are shared by all groups: ``3 * C / groups`` in total. Names
    and shapes follow the official SA-Net code, so its checkpoints load as is;
    used as an mmdet ResNet plugin the layer is called ``sa``.

    Two implementations compute the same function. ``'fast'`` (default) is
    :func:`~.shuffle_attention_function.shuffle_attention`: the input read
    from memory once, the shuffle written through a strided view, an analytic
    backward that saves only the input and per-channel statistics; it needs an
    even ``groups`` and falls back to the reference otherwise. ``'reference'`` is the straightforward form of
    the official code (:meth:`forward_reference`). Switch with the
    ``implementation`` argument or attribute.

    Args:
        in_channels (int): Number of input channels ``C``.
        groups (int): Number of groups ``G``; ``C`` must be divisible by
            ``2 * G``. Defaults to 64.
        eps (float): Epsilon of the GroupNorm. Defaults to 1e-5.
        implementation (str): ``'fast'`` or ``'reference'``.
            Defaults to ``'fast'``.

    Example:
        >>> import torch
        >>> sa = ShuffleAttention(256, groups=64)
        >>> sa(torch.rand(2, 256, 8, 8)).shape
        torch.Size([2, 256, 8, 8])
    """

    _abbr_ = 'sa'

    def __init__(self,
                 in_channels: int,
                 groups: int = 64,
                 eps: float = 1e-5,
                 implementation: str = 'fast') -> None:
        super().__init__()
        _check_implementation(implementation)
        if groups < 1 or in_channels % (2 * groups) != 0:
            raise ValueError(
                f'ShuffleAttention needs in_channels divisible by 2 * groups, but got '
                f'in_channels={in_channels}, groups={groups}. Valid groups for '
                f'in_channels={in_channels}: {valid_sa_groups(in_channels)}.')
        self.in_channels = in_channels
        self.groups = groups
        self.implementation = implementation
        half = in_channels // (2 * groups)
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.gn = nn.GroupNorm(half, half, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        """Apply shuffle attention.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of shape (N, C, H, W).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'ShuffleAttention({self.in_channels}) expects an input of shape '
                             f'(N, {self.in_channels}, H, W), but got {tuple(x.shape)}.')
        if self.implementation == 'fast' and self.groups % 2 == 0:
            weight, bias = sa_gate_params(self.cweight, self.cbias, self.sweight, self.sbias,
                                          self.gn.weight, self.gn.bias)
            return shuffle_attention(x, weight, bias, self.groups, self.gn.eps)
        _check_implementation(self.implementation)
        return self.forward_reference(x)

    def forward_reference(self, x: Tensor) -> Tensor:
        """The straightforward form of the official SA-Net code.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of shape (N, C, H, W).
        """
        n, c, h, w = x.shape
        x = x.reshape(n * self.groups, c // self.groups, h, w)
        x_channel, x_spatial = x.chunk(2, dim=1)

        gate = self.cweight * x_channel.mean((2, 3), keepdim=True) + self.cbias
        x_channel = x_channel * torch.sigmoid(gate)

        gate = self.sweight * self.gn(x_spatial) + self.sbias
        x_spatial = x_spatial * torch.sigmoid(gate)

        out = torch.cat([x_channel, x_spatial], dim=1).reshape(n, c, h, w)
        return channel_shuffle(out, 2)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, groups={self.groups}, '
                f'implementation={self.implementation!r}')
