"""The ImageNet classifier of the SA-Net paper's Table 1, for counting its complexity."""

import torch.nn as nn
from torch import Tensor


class ImageNetClassifier(nn.Module):
    """A ResNet-like backbone with global average pooling and a 1000-way fc.

    What pretraining builds with mmpretrain's ``ImageClassifier`` (``configs/imagenet/``), in a
    minimal form that needs no mmpretrain.

    Args:
        backbone (nn.Module): Returns a tuple whose last item is the final feature map.
        in_channels (int): Channels of that map. Defaults to 2048.
        num_classes (int): Classes of the fc layer. Defaults to 1000.
    """

    def __init__(
        self, backbone: nn.Module, in_channels: int = 2048, num_classes: int = 1000
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits of shape (N, num_classes) for images (N, 3, H, W)."""
        return self.fc(self.pool(self.backbone(x)[-1]).flatten(1))
