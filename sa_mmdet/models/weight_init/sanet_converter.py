"""Check and convert SA-Net ImageNet checkpoints into mmdet backbone ones.

The official weights (``sa_resnet{50,101}.pth.tar``, https://github.com/wofmanaf/SA-Net)
hold torchvision ResNet keys plus ``layerX.Y.sa.*`` under ``module.``, the
names :class:`~sa_mmdet.models.SAResNet` uses: conversion reads the
architecture off the keys and checks them against that backbone, built on
the meta device. A plain ResNet needs no conversion (``type='Pretrained'``
grafts SA into it).
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from ..backbones import SAResNet
from ..backbones.resnet_checkpoint import (
    ResNetCheckpointError,
    backbone_keys,
    blocks_per_stage,
    depth_of,
    match_resnet_checkpoint,
)

SANET_RELEASE = 'https://github.com/wofmanaf/SA-Net'
_STAGE1_CHANNELS = 256  # output channels of every bottleneck depth's first stage


@dataclass
class SANetConversion:
    """Result of :func:`convert_sanet_state_dict`.

    Args:
        state_dict (OrderedDict[str, Tensor]): The backbone's state dict, in
            its key order (missing BatchNorm counters filled with 0).
        depth (int): Detected depth.
        sa_groups (int): Detected SA groups ``G``.
        leftovers (list[str]): Input keys outside the backbone (``fc.*``, ...).
    """

    state_dict: 'OrderedDict[str, Tensor]'
    depth: int
    sa_groups: int
    leftovers: List[str] = field(default_factory=list)


def missing_checkpoint_message(filename: str) -> str:
    """The error for a missing SA-ResNet checkpoint ``filename``: where weights come from."""
    return (
        f'SA-ResNet checkpoint {filename!r} not found. Download the official ImageNet weights '
        f'(sa_resnet50.pth.tar, sa_resnet101.pth.tar) from the SA-Net release {SANET_RELEASE} '
        'and save them under that path (they load as they are; `python '
        'tools/model_converters/sanet2mmdet.py SRC DST` checks and converts them), or start '
        "from a plain ResNet with init_cfg=dict(type='Pretrained', "
        "checkpoint='torchvision://resnet50') (SA grafted in exactly: the *-tv-pre_* configs), "
        'or pretrain with configs/imagenet/sa-resnet50_8xb32_in1k.py (the `pretrain` extra). '
        'See docs/checkpoints.md.'
    )


def sanet_checkpoint_arch(state_dict: Mapping[str, Tensor]) -> Tuple[int, Optional[int]]:
    """``(depth, sa_groups)`` of a (SA-)ResNet state dict, read from its keys.

    ``sa_groups`` is None without SA keys.

    Raises:
        ResNetCheckpointError: Not a ResNet, unknown depth, or an SA weight of
            a shape no SA groups give.
    """
    names, _ = backbone_keys(state_dict, 'conv1.weight')
    blocks = blocks_per_stage(names)
    if not any(blocks):
        raise ResNetCheckpointError(
            f'not a ResNet checkpoint: no layer1-layer4 keys; the first keys are {list(names)[:8]}.'
        )
    depth = depth_of(blocks)
    if depth is None:
        raise ResNetCheckpointError(
            f'unknown depth: the checkpoint has {blocks} blocks in layer1-4, which matches no '
            'bottleneck ResNet depth (50, 101, 152).'
        )
    cweight = names.get('layer1.0.sa.cweight')
    if cweight is None:
        return depth, None
    half = cweight.shape[1] if cweight.dim() == 4 else 0
    if half < 1 or _STAGE1_CHANNELS % (2 * half):
        raise ResNetCheckpointError(
            f'shape mismatch: layer1.0.sa.cweight has shape {tuple(cweight.shape)}; expected '
            '(1, 256 / (2 * G), 1, 1) for SA groups G, e.g. (1, 2, 1, 1) for G = 64.'
        )
    return depth, _STAGE1_CHANNELS // (2 * half)


def convert_sanet_state_dict(
    state_dict: Mapping[str, Tensor], depth: Optional[int] = None
) -> SANetConversion:
    """Check an SA-ResNet state dict and return the backbone's.

    Args:
        state_dict (Mapping[str, Tensor]): Official SA-Net, converted or
            mmengine (mmpretrain/mmdet) state dict.
        depth (int, optional): Require this depth. Defaults to the detected one.

    Returns:
        SANetConversion: State dict, depth, SA groups and leftover keys.

    Raises:
        ResNetCheckpointError: If it is no SA-ResNet (a plain one included) or
            does not fit one (:func:`match_resnet_checkpoint`).
    """
    detected, sa_groups = sanet_checkpoint_arch(state_dict)
    if sa_groups is None:
        raise ResNetCheckpointError(
            f'missing SA keys: no layerX.Y.sa.* keys, so this is a plain ResNet-{detected}. It '
            "needs no conversion: init_cfg=dict(type='Pretrained', checkpoint=...) grafts SA "
            'into it exactly (docs/checkpoints.md).'
        )
    with torch.device('meta'):
        model = SAResNet(depth or detected, sa_groups)
    match = match_resnet_checkpoint(state_dict, model)
    converted = OrderedDict(
        (key, match.state_dict.get(key, torch.tensor(0))) for key in model.state_dict()
    )
    return SANetConversion(converted, match.depth, sa_groups, match.leftovers)
