"""The official SA-Net ImageNet model, written independently for tests.

Follows github.com/wofmanaf/SA-Net ``models/sa_resnet.py``: torchvision's
ResNet (stride on conv2, 7x7/2 stem + 3x3/2 max pool, ``fc`` on 2048) whose
bottlenecks apply ``sa_layer(planes * 4, groups=64)`` after ``bn3``, before
the residual add. Shares no code with ``sa_mmdet``; its ``state_dict`` has the
official key names, and :func:`save_official_checkpoint` writes the official
``.pth.tar`` format.
"""

from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class SALayer(nn.Module):
    """The official ``sa_layer``: names and arithmetic as released."""

    def __init__(self, channel: int, groups: int = 64) -> None:
        super().__init__()
        self.groups = groups
        half = channel // (2 * groups)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sigmoid = nn.Sigmoid()
        self.gn = nn.GroupNorm(half, half)

    @staticmethod
    def channel_shuffle(x: Tensor, groups: int) -> Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b, groups, -1, h, w).permute(0, 2, 1, 3, 4)
        return x.reshape(b, -1, h, w)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b * self.groups, -1, h, w)
        x_0, x_1 = x.chunk(2, dim=1)
        xn = self.avg_pool(x_0)
        xn = self.cweight * xn + self.cbias
        xn = x_0 * self.sigmoid(xn)
        xs = self.gn(x_1)
        xs = self.sweight * xs + self.sbias
        xs = x_1 * self.sigmoid(xs)
        out = torch.cat([xn, xs], dim=1).reshape(b, -1, h, w)
        return self.channel_shuffle(out, 2)


class SABottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.sa = SALayer(planes * self.expansion)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.sa(out)
        return F.relu(out + identity)


class OfficialSAResNet(nn.Module):
    """torchvision-layout SA-ResNet with ``forward_stages`` for tests."""

    blocks = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(self, depth: int = 50, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, (num, planes) in enumerate(zip(self.blocks[depth], (64, 128, 256, 512))):
            stride = 1 if i == 0 else 2
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
            layers = [SABottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            layers += [SABottleneck(inplanes, planes) for _ in range(num - 1)]
            setattr(self, f'layer{i + 1}', nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward_stages(self, x: Tensor) -> List[Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
            outs.append(x)
        return outs

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.avgpool(self.forward_stages(x)[-1]), 1))


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, BN statistics and SA parameters, at sane scales.

    Conv weights are He-scaled so activations stay O(1) through 16+ blocks;
    BN affine/statistics and every SA parameter are random (not the init,
    which makes the SA gates constant).
    """
    gen = torch.Generator().manual_seed(seed)

    def rand(shape: Tuple[int, ...], low: float, high: float) -> Tensor:
        return torch.rand(shape, generator=gen) * (high - low) + low

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
                )
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(rand(module.weight.shape, 0.2, 0.6))
                module.bias.copy_(rand(module.bias.shape, -0.2, 0.2))
                module.running_mean.copy_(rand(module.running_mean.shape, -0.3, 0.3))
                module.running_var.copy_(rand(module.running_var.shape, 0.5, 2.0))
                module.num_batches_tracked.fill_(1234)
            elif isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * 0.01)
                module.bias.zero_()
            elif isinstance(module, SALayer):
                for param in (
                    module.cweight,
                    module.cbias,
                    module.sweight,
                    module.sbias,
                    module.gn.weight,
                    module.gn.bias,
                ):
                    param.copy_(torch.randn(param.shape, generator=gen))
    return model


def save_official_checkpoint(model: nn.Module, path: str) -> None:
    """Save as SA-Net's ``main.py`` does, from a DataParallel-wrapped model."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    torch.save(
        {
            'epoch': 100,
            'arch': 'sa_resnet50',
            'state_dict': {f'module.{k}': v for k, v in model.state_dict().items()},
            'best_acc': torch.tensor(77.88),
            'optimizer': optimizer.state_dict(),
        },
        path,
    )
