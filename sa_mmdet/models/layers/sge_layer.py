"""Spatial Group-wise Enhance (SGE) layer, a baseline of the SA-Net comparison.

Paper: `Spatial Group-wise Enhance: Improving Semantic Feature Learning in
Convolutional Networks`, Xiang Li, Xiaolin Hu and Jian Yang, 2019
(https://arxiv.org/abs/1905.09646).
"""

from typing import List

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@MODELS.register_module()
class SpatialGroupEnhance(BaseModule):
    """SGE: per-group spatial gates from similarity to the group's average.

    The ``C`` channels are split into ``groups`` groups. In each group, every
    position's importance is the dot product of its feature with the group's
    global average feature; over the positions it is normalised to zero mean
    and unit (unbiased) standard deviation (``eps`` added to the standard
    deviation), scaled and shifted by that group's ``weight`` and ``bias``,
    and its sigmoid gates every channel of the group at that position.
    ``2 * groups`` parameters per layer, zero ``weight`` and unit ``bias`` at
    init, as in the official code (PytorchInsight's ``SpatialGroupEnhance``);
    parameter names and shapes also match it (``sge.weight`` of shape
    ``(1, groups, 1, 1)``), so its checkpoints load. No implementation in
    mmdet, mmcv or mmpretrain exists to reuse.

    Args:
        in_channels (int): Number of input (and output) channels ``C``,
            divisible by ``groups``.
        groups (int): Number of groups. Defaults to 64.
        eps (float): Added to the standard deviation. Defaults to 1e-5.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Example:
        >>> import torch
        >>> sge = SpatialGroupEnhance(256, groups=64)
        >>> sge(torch.rand(2, 256, 8, 8)).shape
        torch.Size([2, 256, 8, 8])
    """

    _abbr_ = 'sge'

    def __init__(
        self, in_channels: int, groups: int = 64, eps: float = 1e-5, init_cfg: OptMultiConfig = None
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels < 1 or groups < 1 or in_channels % groups != 0:
            raise ValueError(
                f'SpatialGroupEnhance needs in_channels divisible by groups, but got '
                f'in_channels={in_channels}, groups={groups}. Valid groups for '
                f'in_channels={in_channels}: {_divisors(in_channels)}.'
            )
        self.in_channels = in_channels
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.ones(1, groups, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Gate every position of every group of ``x``.

        Args:
            x (Tensor): Input of shape (N, C, H, W) with H * W >= 2.

        Returns:
            Tensor: Output of shape (N, C, H, W).
        """
        n, c, h, w = x.shape
        if h * w < 2:
            raise ValueError(
                f'SpatialGroupEnhance normalises over the H * W positions and needs at least 2, '
                f'but got an input of shape {tuple(x.shape)}; use a larger input or fewer '
                f'downsampling stages.'
            )
        groups = x.reshape(n * self.groups, c // self.groups, h, w)
        importance = (groups * groups.mean(dim=(2, 3), keepdim=True)).sum(dim=1)
        importance = importance.reshape(n * self.groups, h * w)
        importance = importance - importance.mean(dim=1, keepdim=True)
        importance = importance / (importance.std(dim=1, keepdim=True) + self.eps)
        importance = importance.reshape(n, self.groups, h, w) * self.weight + self.bias
        gate = torch.sigmoid(importance).reshape(n * self.groups, 1, h, w)
        return (groups * gate).reshape(n, c, h, w)
