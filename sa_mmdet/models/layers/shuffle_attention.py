"""Shuffle Attention (SA) layer.

Paper: `SA-Net: Shuffle Attention for Deep Convolutional Neural Networks`,
Qing-Long Zhang and Yu-Bin Yang, ICASSP 2021 (https://arxiv.org/abs/2102.00240).
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
    empty_sa_output,
    sa_gate_params,
    shuffle_attention,
)

SA_IMPLEMENTATIONS = ('fast', 'reference')


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` equal blocks of ``x`` (N, C, H, W), as ShuffleNet."""
    n, c, h, w = x.shape
    x = x.reshape(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


def _check_implementation(implementation: str) -> None:
    if implementation not in SA_IMPLEMENTATIONS:
        raise ValueError(
            f'invalid implementation {implementation!r} for ShuffleAttention: '
            f'use one of {SA_IMPLEMENTATIONS}.'
        )


@MODELS.register_module()
class ShuffleAttention(nn.Module):
    """Shuffle Attention: channel and spatial attention on shuffled groups.

    The ``C`` channels are split into ``groups`` sub-features, each into two
    halves of ``C / (2 * groups)`` channels:

    - channel half: ``x * sigmoid(cweight * GAP(x) + cbias)``;
    - spatial half: ``x * sigmoid(sweight * GN(x) + sbias)``, a GroupNorm of
      one channel per group.

    The halves are concatenated and the channels shuffled with 2 groups. All
    groups share the ``3 * C / groups`` parameters, named as in the official
    SA-Net code so its checkpoints load; as a ResNet plugin it is named ``sa``.

    ``implementation='fast'`` (default) runs the fused operator
    :func:`sa_mmdet.ops.shuffle_attention` (compiled CPU kernel, Triton on
    CUDA) on the gate weight and bias of :func:`sa_mmdet.ops.sa_gate_params`;
    it needs an even ``groups`` and falls back to ``'reference'`` otherwise,
    the official code's form (:meth:`forward_reference`). Both compute the
    same function.

    Dtypes follow ``nn.GroupNorm``: the input has the parameters' dtype, or
    is float16/bfloat16 with float32 parameters (mixed precision), which is
    computed in float32; the output has the input's dtype, and any other
    input raises a RuntimeError naming the conversion. An empty input gives
    an empty output and zero parameter gradients.

    Args:
        in_channels (int): Number of input channels ``C``, a positive int.
        groups (int): Number of groups ``G``, a positive int; ``C`` must be
            divisible by ``2 * G``. Defaults to 64.
        eps (float): Epsilon of the GroupNorm, positive. Defaults to 1e-5.
        implementation (str): ``'fast'`` or ``'reference'``. Defaults to ``'fast'``.

    Raises:
        TypeError: If ``in_channels`` or ``groups`` is not an int (NumPy
            integers are, bool is not), or ``eps`` not a number.
        ValueError: For non-positive values, a ``groups`` that does not
            divide ``C / 2`` or an unknown ``implementation``.

    Example:
        >>> sa = ShuffleAttention(256, groups=64)
        >>> sum(p.numel() for p in sa.parameters())  # 3 * C / G
        12
    """

    _abbr_ = 'sa'

    def __init__(
        self, in_channels: int, groups: int = 64, eps: float = 1e-5, implementation: str = 'fast'
    ) -> None:
        super().__init__()
        _check_implementation(implementation)
        in_channels = check_positive_int(in_channels, 'in_channels', 'ShuffleAttention')
        check_sa_groups(in_channels, groups, even=False, name='ShuffleAttention')
        groups = check_positive_int(groups, 'groups', 'ShuffleAttention')
        eps = check_sa_eps(eps, 'ShuffleAttention')
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
        """Apply shuffle attention to ``x`` (N, C, H, W); the output has its shape."""
        check_sa_input(x, self.in_channels, 'ShuffleAttention', self.cweight.dtype)
        if self.implementation == 'fast' and self.groups % 2 == 0:
            weight, bias = sa_gate_params(
                self.cweight, self.cbias, self.sweight, self.sbias, self.gn.weight, self.gn.bias
            )
            return shuffle_attention(x, weight, bias, self.groups, self.gn.eps)
        _check_implementation(self.implementation)
        return self.forward_reference(x)

    def forward_reference(self, x: Tensor) -> Tensor:
        """The official SA-Net forward, under the dtype rule of the class."""
        if x.numel() == 0:  # the statistics of an empty plane would be NaN
            return empty_sa_output(x, *self.parameters())
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16) and self.cweight.dtype == torch.float32:
            x = x.float()
        n, c, h, w = x.shape
        x = x.reshape(n * self.groups, c // self.groups, h, w)
        x_channel, x_spatial = x.chunk(2, dim=1)

        gate = self.cweight * x_channel.mean((2, 3), keepdim=True) + self.cbias
        x_channel = x_channel * torch.sigmoid(gate)

        gate = self.sweight * self.gn(x_spatial) + self.sbias
        x_spatial = x_spatial * torch.sigmoid(gate)

        out = torch.cat([x_channel, x_spatial], dim=1).reshape(n, c, h, w)
        return channel_shuffle(out, 2).to(dtype)

    def extra_repr(self) -> str:
        return f'{self.in_channels}, groups={self.groups}, implementation={self.implementation!r}'
