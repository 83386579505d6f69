"""Squeeze-and-Excitation (SE) layer, a baseline of the SA-Net comparison.

Paper: `Squeeze-and-Excitation Networks`, Jie Hu, Li Shen and Gang Sun,
CVPR 2018 (https://arxiv.org/abs/1709.01507).
"""

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor


def reduced_channels(name: str, in_channels: int, ratio: int) -> int:
    """The hidden width ``in_channels // ratio`` of a reduction MLP, checked to be >= 1."""
    if in_channels < 1 or ratio < 1 or in_channels // ratio < 1:
        raise ValueError(
            f'{name} needs 1 <= ratio <= in_channels, so that its hidden layer keeps '
            f'in_channels // ratio >= 1 channels, but got in_channels={in_channels}, '
            f'ratio={ratio}. Use a ratio of at most {max(in_channels, 1)} (the paper uses 16).'
        )
    return in_channels // ratio


@MODELS.register_module()
class SqueezeExcitation(BaseModule):
    """SE: channel gates from a bottleneck MLP on the global average.

    ``x * sigmoid(W2 relu(W1 GAP(x) + b1) + b2)`` with ``C / ratio`` hidden
    channels, as in SENet; ``bias=False`` drops ``b1`` and ``b2`` (the form
    that fits the SA-Net paper's detector parameter counts). As a ResNet plugin
    it is named ``se_layer`` with mmpretrain ``SEResNet``'s parameter names, so
    those checkpoints load. mmdet's ``SELayer`` takes ``channels`` where mmcv's
    plugins pass ``in_channels``, and has no bias-free form.

    Args:
        in_channels (int): Number of input (and output) channels ``C``.
        ratio (int): Reduction ratio of the hidden layer. Defaults to 16.
        bias (bool): Whether both FC layers have a bias. Defaults to True.
        conv_cfg (dict, optional): Config of the 1x1 convolutions that play
            the FC layers. Defaults to None (``nn.Conv2d``).
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.
    """

    _abbr_ = 'se_layer'

    def __init__(
        self,
        in_channels: int,
        ratio: int = 16,
        bias: bool = True,
        conv_cfg: OptConfigType = None,
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden = reduced_channels('SqueezeExcitation', in_channels, ratio)
        self.in_channels = in_channels
        self.ratio = ratio
        self.with_bias = bias
        self.conv1 = ConvModule(
            in_channels, hidden, 1, bias=bias, conv_cfg=conv_cfg, act_cfg=dict(type='ReLU')
        )
        self.conv2 = ConvModule(
            hidden, in_channels, 1, bias=bias, conv_cfg=conv_cfg, act_cfg=dict(type='Sigmoid')
        )

    def forward(self, x: Tensor) -> Tensor:
        """Gate every channel of ``x`` (N, C, H, W); the output has its shape."""
        return x * self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))
