"""Shuffle Attention with its channel shuffle folded into the layer before.

Deploy form of :class:`~.shuffle_attention.ShuffleAttention`, built by
:func:`sa_mmdet.deploy.fold_shuffle_attention`.
"""
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from torch import Tensor

from .shuffle_attention import ShuffleAttention
from .shuffle_attention_function import sa_gate_params, shuffle_attention


@MODELS.register_module()
class FoldedShuffleAttention(nn.Module):
    """Shuffle Attention whose input arrives already in shuffled channel order.

    Shuffle Attention is a per-channel operation followed by a channel
    shuffle. When the layer before it is per-channel too (conv3 + BatchNorm
    in a ResNet bottleneck), permuting that layer's output channels by the
    shuffle moves the shuffle in front of SA: this layer then gates channel
    ``i`` as :class:`ShuffleAttention` gates pre-shuffle channel
    ``(i % 2) * C / 2 + i // 2`` and writes its output in the same order, so
    no shuffle copy is needed and, at inference, the output can overwrite the
    input. Each channel carries its own gate weight and bias: ``cweight``,
    ``cbias`` on channel-attention channels, ``sweight * gn.weight`` and
    ``sweight * gn.bias + sbias`` on spatial-attention channels.

    Args:
        in_channels (int): Number of input channels ``C``.
        groups (int): Number of SA groups ``G``; ``C`` must be divisible by
            ``2 * G`` and ``G`` even. Defaults to 64.
        eps (float): Epsilon of the spatial-branch normalisation.
            Defaults to 1e-5.
        inplace (bool): Write the output into the input when no gradient is
            needed. Only safe where nothing else reads the input afterwards
            (true for the output of a bottleneck's last BatchNorm).
            Defaults to False.
    """

    _abbr_ = 'sa'

    def __init__(self,
                 in_channels: int,
                 groups: int = 64,
                 eps: float = 1e-5,
                 inplace: bool = False) -> None:
        super().__init__()
        if groups < 2 or groups % 2 or in_channels % (2 * groups):
            raise ValueError(
                f'FoldedShuffleAttention needs an even groups with in_channels divisible by '
                f'2 * groups, but got in_channels={in_channels}, groups={groups}.')
        self.in_channels = in_channels
        self.groups = groups
        self.eps = eps
        self.inplace = inplace
        self.weight = nn.Parameter(torch.zeros(in_channels))
        self.bias = nn.Parameter(torch.ones(in_channels))

    @classmethod
    def from_shuffle_attention(cls, sa: ShuffleAttention,
                               inplace: bool = False) -> 'FoldedShuffleAttention':
        """Build the folded form of a :class:`ShuffleAttention`.

        Args:
            sa (ShuffleAttention): The layer to fold; its input must be fed in
                shuffled order (see :func:`sa_mmdet.deploy.fold_shuffle_attention`).
            inplace (bool): See the class. Defaults to False.

        Returns:
            FoldedShuffleAttention: The folded layer, on ``sa``'s device and dtype.
        """
        folded = cls(sa.in_channels, sa.groups, sa.gn.eps, inplace)
        k = sa.in_channels // (2 * sa.groups)
        with torch.no_grad():
            weight, bias = sa_gate_params(sa.cweight, sa.cbias, sa.sweight, sa.sbias,
                                          sa.gn.weight, sa.gn.bias)
            # channel ((g * 2 + branch) * k + j) * 2 + r takes [branch, j]
            shape = (sa.groups // 2, 2, k, 2)
            folded.weight.data = weight.view(1, 2, k, 1).expand(shape).reshape(-1).clone()
            folded.bias.data = bias.view(1, 2, k, 1).expand(shape).reshape(-1).clone()
        return folded

    def forward(self, x: Tensor) -> Tensor:
        """Apply shuffle attention to an input in shuffled channel order.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of shape (N, C, H, W), in the same channel order.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'FoldedShuffleAttention({self.in_channels}) expects an input of '
                             f'shape (N, {self.in_channels}, H, W), but got {tuple(x.shape)}.')
        k = self.in_channels // (2 * self.groups)
        # rows [r, g, branch, j] of sa_rows_view(x, shuffled=True)
        weight = self.weight.view(self.groups // 2, 2, k, 2).permute(3, 0, 1, 2)
        bias = self.bias.view(self.groups // 2, 2, k, 2).permute(3, 0, 1, 2)
        return shuffle_attention(x, weight, bias, self.groups, self.eps, shuffle=False,
                                 inplace=self.inplace)

    def extra_repr(self) -> str:
        return f'{self.in_channels}, groups={self.groups}, inplace={self.inplace}'
