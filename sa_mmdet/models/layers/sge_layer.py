"""Spatial Group-wise Enhance (SGE) layer, a baseline of the SA-Net comparison.

Paper: `Spatial Group-wise Enhance: Improving Semantic Feature Learning in
Convolutional Networks`, Xiang Li, Xiaolin Hu and Jian Yang, 2019
(https://arxiv.org/abs/1905.09646).
"""

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor


@MODELS.register_module()
class SpatialGroupEnhance(BaseModule):
    """SGE: per-group spatial gates from similarity to the group's average.

    In each of ``groups`` channel groups, a position's importance is the dot
    product of its feature with the group's average feature, normalised over
    the positions (zero mean, unit unbiased std plus ``eps``), then scaled and
    shifted by the group's ``weight`` and ``bias``; its sigmoid gates the
    group at that position. Init, names and shapes follow the official code
    (PytorchInsight), so its checkpoints load.

    Args:
        in_channels (int): Number of input (and output) channels ``C``,
            divisible by ``groups``.
        groups (int): Number of groups. Defaults to 64.
        eps (float): Added to the standard deviation. Defaults to 1e-5.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.
    """

    _abbr_ = 'sge'

    def __init__(
        self, in_channels: int, groups: int = 64, eps: float = 1e-5, init_cfg: OptMultiConfig = None
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels < 1 or groups < 1 or in_channels % groups != 0:
            valid = [d for d in range(1, in_channels + 1) if in_channels % d == 0]
            raise ValueError(
                f'SpatialGroupEnhance needs in_channels divisible by groups, but got '
                f'in_channels={in_channels}, groups={groups}. Valid groups for '
                f'in_channels={in_channels}: {valid}.'
            )
        self.in_channels = in_channels
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.ones(1, groups, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Gate every position of every group of ``x`` (N, C, H, W), H * W >= 2."""
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
