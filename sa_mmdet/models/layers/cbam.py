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

from .eca_layer import is_odd_kernel_size


@MODELS.register_module()
class CBAM(BaseModule):
    """CBAM: channel attention, then spatial attention.

    - channel: ``x * sigmoid(MLP(AvgPool(x)) + MLP(MaxPool(x)))``, one MLP
      ``C -> C / ratio -> C`` with biases and a ReLU, shared by both pools;
    - spatial: ``x * sigmoid(BN(conv7x7([max_c(x); mean_c(x)])))``, a
      bias-free 2 -> 1 convolution followed by a BatchNorm.

    This is the official code's form (``ChannelGate`` and ``SpatialGate`` of
    Jongchan/attention-module), whose count matches the SA-Net paper's
    Table 1: the MLP biases (without them CBAM-ResNet-50 would be 28.075 M,
    not 28.090 M) and ``7 * 7 * 2 + 2`` spatial parameters per layer
    (28,089,624 parameters with the 1000-class fc). As in the official code
    the spatial input stacks the channel-wise max before the mean, the
    spatial BatchNorm has momentum 0.01 and starts with zero weight, and the
    MLP biases start at zero (:meth:`init_weights`).

    Used as an mmdet ResNet plugin the layer is called ``cbam``. Official
    checkpoints name the same parameters ``cbam.ChannelGate.mlp.{1,3}.*`` and
    ``cbam.SpatialGate.spatial.{conv,bn}.*`` (here ``channel_mlp.{0,2}.*``
    and ``spatial_conv.{conv,bn}.*``), so they need a key rename. No
    implementation in mmdet, mmcv or mmpretrain exists to reuse.

    Args:
        in_channels (int): Number of input (and output) channels ``C``.
        ratio (int): Reduction ratio of the channel MLP; its hidden layer
            has ``in_channels // ratio`` units. Defaults to 16.
        kernel_size (int): Odd kernel size of the spatial convolution.
            Defaults to 7.
        norm_cfg (dict, optional): Config of the spatial norm layer; None means
            ``dict(type='BN', momentum=0.01)`` (the official one). Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Example:
        >>> import torch
        >>> cbam = CBAM(256)
        >>> cbam(torch.rand(2, 256, 8, 8)).shape
        torch.Size([2, 256, 8, 8])
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
        if in_channels < 1 or ratio < 1 or in_channels // ratio < 1:
            raise ValueError(
                f'CBAM needs 1 <= ratio <= in_channels, so that the channel MLP keeps '
                f'in_channels // ratio >= 1 hidden units, but got in_channels={in_channels}, '
                f'ratio={ratio}. Use a ratio of at most {max(in_channels, 1)} (CBAM uses 16).'
            )
        if not is_odd_kernel_size(kernel_size):
            raise ValueError(
                f'CBAM needs an odd spatial kernel_size >= 1 (the output keeps its '
                f'size), but got kernel_size={kernel_size!r}; CBAM uses 7.'
            )
        self.in_channels = in_channels
        self.ratio = ratio
        self.kernel_size = kernel_size
        hidden = in_channels // ratio
        self.channel_mlp = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, in_channels)
        )
        self.spatial_conv = ConvModule(
            2,
            1,
            kernel_size,
            padding=kernel_size // 2,
            bias=False,
            norm_cfg=norm_cfg or dict(type='BN', momentum=0.01),
            act_cfg=None,
        )

    def init_weights(self) -> None:
        """Initialise as the official code: zero MLP biases and spatial BN weight.

        Runs once, after mmengine's defaults, and only without an ``init_cfg``.
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
        """Gate the channels, then the positions of ``x``.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of shape (N, C, H, W).
        """
        n, c = x.shape[:2]
        logits = self.channel_mlp(x.mean(dim=(2, 3))) + self.channel_mlp(x.amax(dim=(2, 3)))
        x = x * torch.sigmoid(logits).view(n, c, 1, 1)
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial_conv(pooled))
