"""SA-ResNet: ResNet with Shuffle Attention in every bottleneck.

Paper: `SA-Net: Shuffle Attention for Deep Convolutional Neural Networks`,
Qing-Long Zhang and Yu-Bin Yang, ICASSP 2021 (https://arxiv.org/abs/2102.00240).
"""

from typing import List, Optional, Sequence

from mmdet.registry import MODELS

from ...ops import check_positive_int
from ..layers import ShuffleAttention
from .attention_resnet import AttentionResNet


@MODELS.register_module()
class SAResNet(AttentionResNet):
    """ResNet whose bottlenecks apply Shuffle Attention after conv3/bn3, as SA-Net does.

    An :class:`AttentionResNet` with :class:`ShuffleAttention`, its parameters
    named like the official checkpoints (``layer1.0.sa.cweight``, ...).

    Args:
        depth (int): Depth of the network, one of {50, 101, 152}.
        sa_groups (int): Groups ``G`` of every SA layer, a positive int; each
            stage's output channels must be divisible by ``2 * G``. Defaults to 64.
        sa_stages (Sequence[bool], optional): Which stages carry SA, one flag
            per stage; None means every stage. Defaults to None.
        plugins (list[dict], optional): Extra mmdet ResNet plugins, placed
            after SA. Defaults to None.
        **kwargs: Other arguments of :class:`mmdet.models.ResNet`. A ``Pretrained``
            ``init_cfg`` takes SA-Net, SA-ResNet and plain ResNet checkpoints
            (``'torchvision://resnet50'``), ``SANetPretrained`` SA ones only.

    Raises:
        TypeError: If ``depth`` or ``sa_groups`` is not an int (e.g. ``'50'``).
        KeyError: For another int ``depth``.
        ValueError: For a non-positive ``sa_groups``, one that does not
            divide a stage's channels, or bad ``sa_stages``.

    Example:
        >>> import torch
        >>> model = SAResNet(depth=50).eval()
        >>> [tuple(out.shape[1:]) for out in model(torch.rand(1, 3, 64, 64))]
        [(256, 16, 16), (512, 8, 8), (1024, 4, 4), (2048, 2, 2)]
    """

    def __init__(
        self,
        depth: int,
        sa_groups: int = 64,
        sa_stages: Optional[Sequence[bool]] = None,
        plugins: Optional[List[dict]] = None,
        **kwargs,
    ) -> None:
        sa_groups = check_positive_int(sa_groups, 'sa_groups', 'SAResNet')
        num_stages = kwargs.get('num_stages', 4)
        if sa_stages is None:
            sa_stages = (True,) * num_stages
        if (
            not isinstance(sa_stages, Sequence)
            or len(sa_stages) != num_stages
            or not all(isinstance(flag, bool) for flag in sa_stages)
        ):
            raise ValueError(
                f'sa_stages must be {num_stages} booleans, one per stage '
                f'(num_stages={num_stages}), e.g. {(True,) * num_stages}, but got {sa_stages!r}.'
            )
        self.sa_groups = sa_groups
        self.sa_stages = tuple(sa_stages)
        attention = [
            dict(type=ShuffleAttention, groups=sa_groups) if on else None for on in sa_stages
        ]
        super().__init__(depth, attention=attention, plugins=plugins, **kwargs)
