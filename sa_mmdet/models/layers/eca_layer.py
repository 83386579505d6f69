"""Efficient Channel Attention (ECA) layer, a baseline of the SA-Net comparison.

Paper: `ECA-Net: Efficient Channel Attention for Deep Convolutional Neural
Networks`, Qilong Wang, Banggu Wu, Pengfei Zhu, Peihua Li, Wangmeng Zuo and
Qinghua Hu, CVPR 2020 (https://arxiv.org/abs/1910.03151).
"""

import math
from typing import Optional

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor


def eca_kernel_size(in_channels: int, gamma: float = 2, beta: float = 1) -> int:
    """ECA's adaptive kernel size ``|log2(C) / gamma + beta / gamma|_odd``, as the official code.

    Args:
        in_channels (int): Number of channels ``C``.
        gamma (float): The paper's ``gamma``. Defaults to 2.
        beta (float): The paper's ``b``. Defaults to 1.

    Returns:
        int: An odd kernel size >= 1.
    """
    t = int(abs((math.log2(in_channels) + beta) / gamma))
    return t if t % 2 else t + 1


def check_odd_kernel_size(kernel_size: object, needs: str, hint: str) -> None:
    """Raise ``needs`` unless ``kernel_size`` is an odd int >= 1 (not a bool): padding keeps it."""
    is_int = isinstance(kernel_size, int) and not isinstance(kernel_size, bool)
    if not is_int or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f'{needs} >= 1 (the output keeps its size), but got kernel_size={kernel_size!r}; '
            f'{hint}.'
        )


@MODELS.register_module()
class EfficientChannelAttention(BaseModule):
    """ECA: channel gates from a 1-D convolution across the global average.

    ``x * sigmoid(conv1d_k(GAP(x)))``, one bias-free kernel of ``k`` weights
    over the zero-padded channel axis; ``k`` follows the adaptive rule
    (:func:`eca_kernel_size`) unless given. As a ResNet plugin it is named
    ``eca`` with the official code's parameter names, so its checkpoints load
    (``eca_resnet50_k3557``: one attention dict per stage).

    Args:
        in_channels (int): Number of input (and output) channels ``C``.
        kernel_size (int, optional): Odd kernel size; None picks it from
            ``in_channels``, ``gamma`` and ``beta``. Defaults to None.
        gamma (float): The adaptive rule's ``gamma``. Defaults to 2.
        beta (float): The adaptive rule's ``b``. Defaults to 1.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.

    Example:
        >>> import torch
        >>> eca = EfficientChannelAttention(256)
        >>> eca.kernel_size, eca(torch.rand(2, 256, 8, 8)).shape
        (5, torch.Size([2, 256, 8, 8]))
    """

    _abbr_ = 'eca'

    def __init__(
        self,
        in_channels: int,
        kernel_size: Optional[int] = None,
        gamma: float = 2,
        beta: float = 1,
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels < 1:
            raise ValueError(
                f'EfficientChannelAttention needs in_channels >= 1, '
                f'but got in_channels={in_channels}.'
            )
        if kernel_size is None:
            if gamma <= 0:
                raise ValueError(
                    f'EfficientChannelAttention needs gamma > 0 for its adaptive '
                    f'kernel size, but got gamma={gamma}; the paper uses 2.'
                )
            kernel_size = eca_kernel_size(in_channels, gamma, beta)
        check_odd_kernel_size(
            kernel_size,
            'EfficientChannelAttention needs an odd kernel_size',
            'use e.g. 3, 5 or 7, or None for the adaptive size',
        )
        self.in_channels = in_channels
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Gate every channel of ``x`` (N, C, H, W); the output has its shape."""
        y = self.conv(x.mean(dim=(2, 3)).unsqueeze(1))
        return x * torch.sigmoid(y).view(*x.shape[:2], 1, 1)
