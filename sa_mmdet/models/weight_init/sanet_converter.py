"""Check and convert SA-Net checkpoints into SA-ResNet state dicts.

The official SA-Net ImageNet weights (``sa_resnet50.pth.tar``,
``sa_resnet101.pth.tar`` from https://github.com/wofmanaf/SA-Net) are written
by a plain PyTorch script: ``{'epoch', 'state_dict', 'best_acc', 'optimizer'}``
with torchvision ResNet keys (``conv1.weight``, ``layer1.0.bn3.running_mean``,
``layer1.0.downsample.0.weight``, ``fc.weight``) plus ``layerX.Y.sa.*``, all
prefixed by ``module.`` (DataParallel). :class:`~sa_mmdet.models.SAResNet`
uses the same names, so conversion strips prefixes, drops the classifier and
*checks* every key and shape against the expected layout, which the caller
passes in (see :func:`sa_mmdet.models.weight_init.sa_resnet_layout`). The same
function accepts already converted files and mmengine checkpoints of whole
models (mmpretrain classifiers, mmdet detectors), whose backbone keys start
with ``backbone.``. Nothing here builds a model.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import torch
from mmdet.models.backbones import ResNet
from torch import Tensor

SANET_RELEASE = 'https://github.com/wofmanaf/SA-Net'
#: Parameter names of a Shuffle Attention layer, as in the official code.
SA_PARAMETERS = ('cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias')
_STAGE1_CHANNELS = 256  # output channels of every bottleneck depth's first stage

Layout = Mapping[str, Tuple[int, ...]]


class SANetCheckpointError(ValueError):
    """Raised for a state dict that is not a loadable SA-ResNet checkpoint."""


@dataclass
class SANetConversion:
    """Result of :func:`convert_sanet_state_dict`.

    Args:
        state_dict (OrderedDict[str, Tensor]): State dict in the layout's key
            order.
        depth (int): Detected depth.
        sa_groups (int): Detected SA groups ``G``.
        leftovers (list[str]): Input keys not used, without ``module.``
            (``fc.weight``, ``fc.bias``, ``head.fc.weight``, ``neck.*``, ...).
    """

    state_dict: 'OrderedDict[str, Tensor]'
    depth: int
    sa_groups: int
    leftovers: List[str] = field(default_factory=list)


def missing_checkpoint_message(filename: str) -> str:
    """Explain where SA-ResNet ImageNet weights come from.

    Args:
        filename (str): The checkpoint path that does not exist.

    Returns:
        str: A message naming the file, the official release, the converter
        and the pretraining configs.
    """
    return (
        f'SA-ResNet checkpoint {filename!r} not found. Download the official '
        f'ImageNet weights (sa_resnet50.pth.tar, sa_resnet101.pth.tar) from '
        f'the SA-Net release {SANET_RELEASE} and save them under that path '
        '(they load as they are; `python tools/model_converters/sanet2mmdet.py '
        'SRC DST` checks and converts them), or pretrain with '
        'configs/imagenet/sa-resnet50_8xb32_in1k.py (the `pretrain` extra), '
        'or set init_cfg=None to train from scratch. See the README section '
        '"Pretrained SA-Net weights".'
    )


def checkpoint_state_dict(checkpoint: Any) -> Dict[str, Tensor]:
    """Return the state dict held by a loaded checkpoint.

    Args:
        checkpoint (Any): What ``torch.load`` returned: a dict with a
            ``state_dict`` entry (official SA-Net, mmengine) or a state dict.

    Returns:
        dict[str, Tensor]: The state dict.

    Raises:
        SANetCheckpointError: If no state dict of tensors is found.
    """
    if isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if (
        not isinstance(checkpoint, Mapping)
        or not checkpoint
        or not all(isinstance(v, Tensor) for v in checkpoint.values())
    ):
        keys = list(checkpoint)[:8] if isinstance(checkpoint, Mapping) else []
        raise SANetCheckpointError(
            'not a checkpoint of model weights: expected a dict of tensors or '
            f'a dict with a "state_dict" entry, got {type(checkpoint).__name__} '
            f'with keys {keys}.'
        )
    return dict(checkpoint)


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


def _backbone_keys(state_dict: Mapping[str, Tensor]) -> Tuple[Dict[str, str], List[str]]:
    """Map backbone key -> input key; list the other keys, without ``module.``."""
    names = {_strip(key, 'module.'): key for key in state_dict}
    if 'conv1.weight' not in names and 'backbone.conv1.weight' in names:
        backbone = {
            _strip(name, 'backbone.'): key
            for name, key in names.items()
            if name.startswith('backbone.')
        }
        return backbone, [name for name in names if not name.startswith('backbone.')]
    return names, []


def _blocks_per_stage(names: Sequence[str]) -> Tuple[int, ...]:
    blocks: Dict[str, set] = {}
    for name in names:
        parts = name.split('.')
        if len(parts) > 2 and parts[0].startswith('layer') and parts[1].isdigit():
            blocks.setdefault(parts[0], set()).add(int(parts[1]))
    return tuple(len(blocks.get(f'layer{i}', ())) for i in range(1, 5))


def _depth_of(blocks: Tuple[int, ...]) -> Any:
    """The bottleneck ResNet depth with these blocks per stage, else None."""
    return next(
        (
            depth
            for depth, (_, counts) in ResNet.arch_settings.items()
            if depth >= 50 and tuple(counts) == blocks
        ),
        None,
    )


def _detect_depth(names: Sequence[str], expected: Tuple[int, ...]) -> int:
    blocks = _blocks_per_stage(names)
    if not any(blocks):
        raise SANetCheckpointError(
            f'not a ResNet checkpoint: no layer1-layer4 keys; the first keys are {list(names)[:8]}.'
        )
    depth = _depth_of(blocks)
    if depth is None:
        raise SANetCheckpointError(
            f'unknown depth: the checkpoint has {blocks} blocks in layer1-4, '
            'which matches no bottleneck ResNet depth (50, 101, 152).'
        )
    if blocks != expected:
        raise SANetCheckpointError(
            f'depth mismatch: the checkpoint is an SA-ResNet-{depth} ({blocks} blocks in '
            f'layer1-4) but the model is an SA-ResNet-{_depth_of(expected)} ({expected}); '
            f'use a depth={depth} model (or the matching checkpoint).'
        )
    return depth


def _detect_sa_groups(names: Mapping[str, str], state_dict: Mapping[str, Tensor]) -> int:
    if not any('.sa.' in name for name in names):
        raise SANetCheckpointError(
            'missing SA keys: no layerX.Y.sa.{' + ', '.join(SA_PARAMETERS) + '} '
            'parameters, so this is not an SA-Net checkpoint (a plain ResNet '
            f'one?). Official SA-Net weights: {SANET_RELEASE}.'
        )
    key = names.get('layer1.0.sa.cweight')
    half = state_dict[key].shape[1] if key is not None and state_dict[key].dim() == 4 else 0
    if half < 1 or _STAGE1_CHANNELS % (2 * half):
        shape = tuple(state_dict[key].shape) if key is not None else None
        raise SANetCheckpointError(
            f'shape mismatch: layer1.0.sa.cweight has shape {shape}; expected '
            f'(1, 256 / (2 * G), 1, 1) for SA groups G, e.g. (1, 2, 1, 1) '
            'for G = 64.'
        )
    return _STAGE1_CHANNELS // (2 * half)


def sanet_checkpoint_arch(state_dict: Mapping[str, Tensor]) -> Tuple[int, int]:
    """Depth and SA groups of an SA-ResNet state dict, read from its keys.

    Args:
        state_dict (Mapping[str, Tensor]): As :func:`convert_sanet_state_dict`
            takes it.

    Returns:
        tuple[int, int]: ``(depth, sa_groups)``.

    Raises:
        SANetCheckpointError: Not a ResNet, unknown depth or no SA keys.
    """
    names, _ = _backbone_keys(state_dict)
    blocks = _blocks_per_stage(names)
    depth = _detect_depth(names, blocks)
    return depth, _detect_sa_groups(names, state_dict)


def convert_sanet_state_dict(state_dict: Mapping[str, Tensor], layout: Layout) -> SANetConversion:
    """Convert and check an SA-ResNet state dict against an expected layout.

    Strips ``module.`` (DataParallel) and, for whole-model checkpoints
    without top-level ``conv1.weight``, keeps the ``backbone.`` keys. Every
    key of ``layout`` must then be present with its shape (BatchNorm
    ``num_batches_tracked`` may be absent: it is filled with 0). Every other
    input key (``fc.*``, heads, necks) is a leftover.

    Args:
        state_dict (Mapping[str, Tensor]): Official SA-Net, converted, or
            mmengine (mmpretrain/mmdet) state dict.
        layout (Mapping[str, tuple[int, ...]]): Keys and shapes of the target
            SA-ResNet's state dict, in order.

    Returns:
        SANetConversion: State dict, depth, SA groups and leftover keys.

    Raises:
        SANetCheckpointError: Not a ResNet, unknown or mismatching depth,
            missing SA keys, missing keys or shape mismatches; the message
            names them.
    """
    names, leftovers = _backbone_keys(state_dict)
    depth = _detect_depth(names, _blocks_per_stage(layout))
    sa_groups = _detect_sa_groups(names, state_dict)

    missing = [k for k in layout if k not in names and not k.endswith('num_batches_tracked')]
    if missing:
        sa_missing = [k for k in missing if '.sa.' in k]
        what = 'missing SA keys' if sa_missing else 'missing keys'
        raise SANetCheckpointError(
            f'{what}: {len(missing)} keys of SA-ResNet-{depth} are not '
            f'in the checkpoint, e.g. {(sa_missing or missing)[:6]}.'
        )
    mismatched = [
        f'{k}: {tuple(state_dict[names[k]].shape)} != {tuple(shape)}'
        for k, shape in layout.items()
        if k in names and tuple(state_dict[names[k]].shape) != tuple(shape)
    ]
    if mismatched:
        raise SANetCheckpointError(
            f'shape mismatch with the model in {len(mismatched)} keys (checkpoint '
            f'!= model; the checkpoint has sa_groups={sa_groups}): ' + '; '.join(mismatched[:6])
        )

    converted = OrderedDict()
    for key in layout:
        converted[key] = state_dict[names[key]] if key in names else torch.tensor(0)
    leftovers += [_strip(names[k], 'module.') for k in names if k not in layout]
    return SANetConversion(converted, depth, sa_groups, leftovers)
