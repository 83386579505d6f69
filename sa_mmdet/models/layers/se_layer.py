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


@MODELS.register_module()
class SqueezeExcitation(BaseModule):
    """SE: channel gates from a bottleneck MLP on the global average.

    ``x * sigmoid(W2 relu(W1 GAP(x) + b1) + b2)``, with ``W1`` of shape
    ``(C / ratio, C)`` and ``W2`` of shape ``(C, C / ratio)``: as in SENet,
    ``2 C^2 / ratio + C / ratio + C`` parameters per layer, which makes
    SE-ResNet-50 28.088 M parameters with its 1000-class fc (the SA-Net
    paper's Table 1). ``bias=False`` drops ``b1`` and ``b2`` (the form that
    fits the SA-Net paper's Faster and Mask R-CNN parameter counts).

    Used as an mmdet ResNet plugin the layer is called ``se_layer``, and its
    parameters are named as in mmpretrain's ``SEResNet``
    (``layer1.0.se_layer.conv1.conv.weight``, ...), whose ImageNet
    checkpoints therefore load into :class:`AttentionResNet` with SE.

    mmdet's own :class:`mmdet.models.layers.SELayer` computes the same function
    but is not used here: its first argument is ``channels`` (mmcv's
    ``build_plugin_layer`` passes ``in_channels=``), it is not registered, it
    has no bias-free form and it checks its arguments with ``assert``.
    mmpretrain's ``SELayer`` has the same argument name problem and belongs to
    an optional dependency.

    Args:
        in_channels (int): Number of input (and output) channels ``C``.
        ratio (int): Reduction ratio; the hidden layer has
            ``in_channels // ratio`` channels. Defaults to 16.
        bias (bool): Whether both FC layers have a bias. Defaults to True.
        conv_cfg (dict, optional): Config of the 1x1 convolutions that play
            the FC layers. Defaults to None (``nn.Conv2d``).
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Example:
        >>> import torch
        >>> se = SqueezeExcitation(256)
        >>> se(torch.rand(2, 256, 8, 8)).shape
        torch.Size([2, 256, 8, 8])
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
        if in_channels < 1 or ratio < 1 or in_channels // ratio < 1:
            raise ValueError(
                f'SqueezeExcitation needs 1 <= ratio <= in_channels, so that the hidden '
                f'layer keeps in_channels // ratio >= 1 channels, but got '
                f'in_channels={in_channels}, ratio={ratio}. Use a ratio of at most '
                f'{max(in_channels, 1)} (SENet uses 16).'
            )
        self.in_channels = in_channels
        self.ratio = ratio
        self.with_bias = bias
        hidden = in_channels // ratio
        self.conv1 = ConvModule(
            in_channels, hidden, 1, bias=bias, conv_cfg=conv_cfg, act_cfg=dict(type='ReLU')
        )
        self.conv2 = ConvModule(
            hidden, in_channels, 1, bias=bias, conv_cfg=conv_cfg, act_cfg=dict(type='Sigmoid')
        )

    def forward(self, x: Tensor) -> Tensor:
        """Gate every channel of ``x``.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of shape (N, C, H, W).
        """
        return x * self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))
