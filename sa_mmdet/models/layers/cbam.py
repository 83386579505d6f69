"""Convolutional Block Attention Module (CBAM), a baseline of the SA-Net comparison.

Paper: `CBAM: Convolutional Block Attention Module`, Sanghyun Woo, Jongchan
Park, Joon-Young Lee and In So Kweon, ECCV 2018
(https://arxiv.org/abs/1807.06521).
"""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from .eca_layer import check_odd_kernel_size
from .se_layer import reduced_channels


@MODELS.register_module()
class CBAM(BaseModule):
    """CBAM: channel attention, then spatial attention.

    - channel: ``x * sigmoid(MLP(AvgPool(x)) + MLP(MaxPool(x)))``, one MLP
      ``C -> C / ratio -> C`` with biases and a ReLU, shared by both pools;
    - spatial: ``x * sigmoid(BN(conv([max_c(x); mean_c(x)])))``, a bias-free
      2 -> 1 convolution.

    The form, channel order and init follow the official code (``ChannelGate``
    and ``SpatialGate`` of Jongchan/attention-module), whose parameter count is
    the SA-Net paper's Table 1. As a ResNet plugin it is named ``cbam``; official
    checkpoints need a key rename (``ChannelGate.mlp.{1,3}`` to
    ``channel_mlp.{0,2}``, ``SpatialGate.spatial`` to ``spatial_conv``).

    Args:
        in_channels (int): Number of input (and output) channels ``C``.
        ratio (int): Reduction ratio of the channel MLP. Defaults to 16.
        kernel_size (int): Odd kernel size of the spatial convolution. Defaults to 7.
        norm_cfg (dict, optional): Config of the spatial norm; None means the
            official ``dict(type='BN', momentum=0.01)``. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.
    """

    _abbr_ = 'cbam'

    def __init__(
        self,
        in_channels: int,
        ratio: int = 16,
        kernel_size: int = 7,
        norm_cfg: OptConfigType = None,
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden = reduced_channels('CBAM', in_channels, ratio)
        check_odd_kernel_size(kernel_size, 'CBAM needs an odd spatial kernel_size', 'CBAM uses 7')
        self.in_channels = in_channels
        self.ratio = ratio
        self.kernel_size = kernel_size
        self.channel_mlp = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, in_channels)
        )
        norm_cfg = norm_cfg or dict(type='BN', momentum=0.01)
        self.spatial_conv = ConvModule(
            2, 1, kernel_size, padding=kernel_size // 2, bias=False, norm_cfg=norm_cfg, act_cfg=None
        )

    def init_weights(self) -> None:
        """Zero the MLP biases and the spatial BN weight (the official init), once.

        Only without an ``init_cfg``, and after mmengine's defaults.
        """
        is_init = self.is_init
        super().init_weights()
        if is_init or self.init_cfg is not None:
            return
        nn.init.zeros_(self.channel_mlp[0].bias)
        nn.init.zeros_(self.channel_mlp[2].bias)
        if self.spatial_conv.with_norm:
            nn.init.zeros_(self.spatial_conv.norm.weight)

    def forward(self, x: Tensor) -> Tensor:
        """Gate the channels, then the positions of ``x`` (N, C, H, W)."""
        n, c = x.shape[:2]
        logits = self.channel_mlp(x.mean(dim=(2, 3))) + self.channel_mlp(x.amax(dim=(2, 3)))
        x = x * torch.sigmoid(logits).view(n, c, 1, 1)
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial_conv(pooled))
