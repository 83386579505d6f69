"""Shuffle Attention with its channel shuffle folded into the layer before.

Deploy form of :class:`~.shuffle_attention.ShuffleAttention`, built by
:func:`sa_mmdet.deploy.fold_shuffle_attention`.
"""

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from torch import Tensor

from ...ops import (
    check_positive_int,
    check_sa_eps,
    check_sa_groups,
    check_sa_input,
    sa_gate_params,
    shuffle_attention,
)
from .shuffle_attention import ShuffleAttention


@MODELS.register_module()
class FoldedShuffleAttention(nn.Module):
    """Shuffle Attention whose input arrives already in shuffled channel order.

    Shuffle Attention is a per-channel operation followed by a channel
    shuffle. When the layer before it is per-channel too (conv3 + BatchNorm
    in a ResNet bottleneck), permuting that layer's output channels by the
    shuffle moves the shuffle in front of SA: this layer then gates channel
    ``i`` as :class:`ShuffleAttention` gates pre-shuffle channel
    ``(i % 2) * C / 2 + i // 2`` and keeps the channel order, so no shuffle
    copy is made and, at inference, the output can overwrite the input.

    The parameters are the gate weight and bias of :func:`sa_gate_params`,
    shape (2, k) with ``k = C / 2G``: ``[0] = (cweight, cbias)`` and
    ``[1] = (sweight * gn.weight, sweight * gn.bias + sbias)``.

    Inputs follow :class:`ShuffleAttention`'s dtype rule (the parameters'
    dtype, or float16/bfloat16 with float32 parameters; the output has the
    input's dtype), and an empty input gives an empty output.

    Args:
        in_channels (int): Number of input channels ``C``, a positive int.
        groups (int): Number of SA groups ``G``, a positive even int, with
            ``C`` divisible by ``2 * G``. Defaults to 64.
        eps (float): Epsilon of the spatial-attention normalisation,
            positive. Defaults to 1e-5.
        inplace (bool): Write the output into the input when no gradient is
            needed. Only safe where nothing else reads the input afterwards
            (true for the output of a bottleneck's last BatchNorm).
            Defaults to False.

    Raises:
        TypeError: If ``in_channels`` or ``groups`` is not an int, or
            ``eps`` not a number.
        ValueError: For non-positive values or a ``groups`` that is odd or
            does not divide ``C / 2`` (the message lists the valid ones).
    """

    _abbr_ = 'sa'

    def __init__(
        self, in_channels: int, groups: int = 64, eps: float = 1e-5, inplace: bool = False
    ) -> None:
        super().__init__()
        name = 'FoldedShuffleAttention'
        in_channels = check_positive_int(in_channels, 'in_channels', name)
        check_sa_groups(in_channels, groups, even=True, name=name)
        self.in_channels = in_channels
        self.groups = check_positive_int(groups, 'groups', name)
        self.eps = check_sa_eps(eps, name)
        self.inplace = inplace
        k = in_channels // (2 * self.groups)
        self.weight = nn.Parameter(torch.zeros(2, k))
        self.bias = nn.Parameter(torch.ones(2, k))

    @classmethod
    def from_shuffle_attention(
        cls, sa: ShuffleAttention, inplace: bool = False
    ) -> 'FoldedShuffleAttention':
        """Build the folded form of a :class:`ShuffleAttention`.

        Args:
            sa (ShuffleAttention): The layer to fold. The folded layer must be
                fed ``sa``'s input in shuffled channel order.
            inplace (bool): See the class. Defaults to False.

        Returns:
            FoldedShuffleAttention: The folded layer, on ``sa``'s device and
            dtype.
        """
        folded = cls(sa.in_channels, sa.groups, sa.gn.eps, inplace)
        with torch.no_grad():
            weight, bias = sa_gate_params(
                sa.cweight, sa.cbias, sa.sweight, sa.sbias, sa.gn.weight, sa.gn.bias
            )
        folded.weight.data = weight.clone()
        folded.bias.data = bias.clone()
        return folded

    def forward(self, x: Tensor) -> Tensor:
        """Apply shuffle attention to an input in shuffled channel order.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of shape (N, C, H, W), in the same channel order.
        """
        check_sa_input(x, self.in_channels, 'FoldedShuffleAttention', self.weight.dtype)
        return shuffle_attention(
            x, self.weight, self.bias, self.groups, self.eps, shuffle=False, inplace=self.inplace
        )

    def extra_repr(self) -> str:
        return f'{self.in_channels}, groups={self.groups}, inplace={self.inplace}'
