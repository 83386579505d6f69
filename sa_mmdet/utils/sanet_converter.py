"""Check and convert SA-ResNet checkpoints into :class:`SAResNet` state dicts.

The official SA-Net ImageNet weights (``sa_resnet50.pth.tar``,
``sa_resnet101.pth.tar`` from https://github.com/wofmanaf/SA-Net) are written
by a plain PyTorch script: ``{'epoch', 'state_dict', 'best_acc', 'optimizer'}``
with torchvision ResNet keys (``conv1.weight``, ``layer1.0.bn3.running_mean``,
``layer1.0.downsample.0.weight``, ``fc.weight``) plus ``layerX.Y.sa.*``, all
prefixed by ``module.`` (DataParallel). :class:`SAResNet` uses the same names,
so conversion strips prefixes, drops the classifier and *checks* every key and
shape against an ``SAResNet`` of the detected depth. The same function accepts
already converted files and mmengine checkpoints of whole models (mmpretrain
classifiers, mmdet detectors), whose backbone keys start with ``backbone.``.
"""
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor

from ..models.backbones.sa_resnet import SAResNet

SANET_RELEASE = 'https://github.com/wofmanaf/SA-Net'
_SA_PARAMS = ('cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias')
_STAGE1_CHANNELS = 256  # output channels of every depth's first stage


class SANetCheckpointError(ValueError):
    """Raised for a state dict that is not a loadable SA-ResNet checkpoint."""


@dataclass
class SANetConversion:
    """Result of :func:`convert_sanet_state_dict`.

    Args:
        state_dict (OrderedDict[str, Tensor]): ``SAResNet`` state dict, in the
            model's key order.
        depth (int): Detected depth, one of ``SAResNet.arch_settings``.
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
        and the pretraining config.
    """
    return (
        f'SA-ResNet checkpoint {filename!r} not found. Download the official '
        f'ImageNet weights (sa_resnet50.pth.tar, sa_resnet101.pth.tar) from '
        f'the SA-Net release {SANET_RELEASE} and save them under that path '
        '(they load as they are; `python tools/model_converters/sanet2mmdet.py '
        'SRC DST` checks and converts them), or pretrain on ImageNet with '
        'configs/imagenet/sa-resnet50_8xb32_in1k.py (pip install -e '
        '".[pretrain]"), or set init_cfg=None to train from scratch. See the '
        'README section "Pretrained SA-Net weights".')


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
    if (not isinstance(checkpoint, Mapping) or not checkpoint
            or not all(isinstance(v, Tensor) for v in checkpoint.values())):
        keys = list(checkpoint)[:8] if isinstance(checkpoint, Mapping) else []
        raise SANetCheckpointError(
            'not a checkpoint of model weights: expected a dict of tensors or '
            f'a dict with a "state_dict" entry, got {type(checkpoint).__name__} '
            f'with keys {keys}.')
    return dict(checkpoint)


@lru_cache(maxsize=None)
def sa_resnet_layout(depth: int, sa_groups: int = 64) -> Dict[str, Tuple[int, ...]]:
    """Keys and shapes of ``SAResNet(depth, sa_groups)``'s state dict.

    Built on the meta device, so no memory is allocated.

    Args:
        depth (int): ResNet depth.
        sa_groups (int): SA groups ``G``. Defaults to 64.

    Returns:
        dict[str, tuple[int, ...]]: Shape of every key, in model order.
    """
    with torch.device('meta'):
        model = SAResNet(depth=depth, sa_groups=sa_groups)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def _backbone_keys(state_dict: Mapping[str, Tensor]) -> Tuple[Dict[str, str], List[str]]:
    """Map backbone key -> input key; list the other keys, without ``module.``."""
    names = {_strip(key, 'module.'): key for key in state_dict}
    if 'conv1.weight' not in names and 'backbone.conv1.weight' in names:
        backbone = {_strip(name, 'backbone.'): key for name, key in names.items()
                    if name.startswith('backbone.')}
        return backbone, [name for name in names if not name.startswith('backbone.')]
    return names, []


def _blocks_per_stage(names: Mapping[str, str]) -> Tuple[int, ...]:
    blocks = {}
    for name in names:
        parts = name.split('.')
        if len(parts) > 2 and parts[0].startswith('layer') and parts[1].isdigit():
            blocks.setdefault(parts[0], set()).add(int(parts[1]))
    return tuple(len(blocks.get(f'layer{i}', ())) for i in range(1, 5))


def _detect_depth(names: Mapping[str, str], depth: Optional[int]) -> int:
    blocks = _blocks_per_stage(names)
    known = {d: tuple(arch[1]) for d, arch in SAResNet.arch_settings.items()}
    if not any(blocks):
        raise SANetCheckpointError(
            'not a ResNet checkpoint: no layer1-layer4 keys; the first keys '
            f'are {list(names)[:8]}.')
    found = [d for d, counts in known.items() if counts == blocks]
    if not found:
        raise SANetCheckpointError(
            f'unknown depth: the checkpoint has {blocks} blocks in layer1-4, '
            f'which matches no SA-ResNet depth ({known}).')
    if depth is not None and found[0] != depth:
        raise SANetCheckpointError(
            f'depth mismatch: the checkpoint is an SA-ResNet-{found[0]} '
            f'({blocks} blocks in layer1-4) but depth {depth} was expected; '
            f'use a depth={found[0]} model (or the matching checkpoint).')
    return found[0]


def _detect_sa_groups(names: Mapping[str, str], state_dict: Mapping[str, Tensor]) -> int:
    sa_keys = [name for name in names if '.sa.' in name]
    if not sa_keys:
        raise SANetCheckpointError(
            'missing SA keys: no layerX.Y.sa.{' + ', '.join(_SA_PARAMS) + '} '
            'parameters, so this is not an SA-Net checkpoint (a plain ResNet '
            f'one?). Official SA-Net weights: {SANET_RELEASE}.')
    key = names.get('layer1.0.sa.cweight')
    half = state_dict[key].shape[1] if key is not None and state_dict[key].dim() == 4 else 0
    if half < 1 or _STAGE1_CHANNELS % (2 * half):
        shape = tuple(state_dict[key].shape) if key is not None else None
        raise SANetCheckpointError(
            f'shape mismatch: layer1.0.sa.cweight has shape {shape}; expected '
            f'(1, 256 / (2 * G), 1, 1) for SA groups G, e.g. (1, 2, 1, 1) '
            'for G = 64.')
    return _STAGE1_CHANNELS // (2 * half)


def convert_sanet_state_dict(state_dict: Mapping[str, Tensor],
                             depth: Optional[int] = None) -> SANetConversion:
    """Convert and check an SA-ResNet state dict for :class:`SAResNet`.

    Strips ``module.`` (DataParallel) and, for whole-model checkpoints
    without top-level ``conv1.weight``, keeps the ``backbone.`` keys. Depth and
    SA groups are detected from the keys and shapes; then every key of
    ``SAResNet(depth, sa_groups)`` must be present with its shape
    (BatchNorm ``num_batches_tracked`` may be absent: it is filled with 0).
    Every other input key (``fc.*``, heads, necks) is a leftover.

    Args:
        state_dict (Mapping[str, Tensor]): Official SA-Net, converted, or
            mmengine (mmpretrain/mmdet) state dict.
        depth (int, optional): Required depth; ``None`` accepts any depth in
            ``SAResNet.arch_settings``. Defaults to None.

    Returns:
        SANetConversion: State dict, depth, SA groups and leftover keys.

    Raises:
        SANetCheckpointError: Not a ResNet, unknown or mismatching depth,
            missing SA keys, missing keys or shape mismatches; the message
            names them.
    """
    names, leftovers = _backbone_keys(state_dict)
    found_depth = _detect_depth(names, depth)
    sa_groups = _detect_sa_groups(names, state_dict)
    layout = sa_resnet_layout(found_depth, sa_groups)

    missing = [k for k in layout if k not in names and not k.endswith('num_batches_tracked')]
    if missing:
        sa_missing = [k for k in missing if '.sa.' in k]
        what = 'missing SA keys' if sa_missing else 'missing keys'
        raise SANetCheckpointError(
            f'{what}: {len(missing)} keys of SA-ResNet-{found_depth} are not '
            f'in the checkpoint, e.g. {(sa_missing or missing)[:6]}.')
    mismatched = [f'{k}: {tuple(state_dict[names[k]].shape)} != {shape}'
                  for k, shape in layout.items()
                  if k in names and tuple(state_dict[names[k]].shape) != shape]
    if mismatched:
        raise SANetCheckpointError(
            f'shape mismatch with SA-ResNet-{found_depth} (sa_groups='
            f'{sa_groups}) in {len(mismatched)} keys (checkpoint != model): '
            + '; '.join(mismatched[:6]))

    converted = OrderedDict()
    for key in layout:
        converted[key] = state_dict[names[key]] if key in names else torch.tensor(0)
    leftovers += [_strip(names[k], 'module.') for k in names if k not in layout]
    return SANetConversion(converted, found_depth, sa_groups, leftovers)


def _select_prefix(state_dict: Dict[str, Tensor], prefix: str) -> Dict[str, Tensor]:
    """Keys under ``prefix`` with it removed, as mmengine's PretrainedInit."""
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    selected = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not selected:
        raise SANetCheckpointError(
            f'no key of the checkpoint starts with prefix {prefix!r}; its '
            f'first keys are {list(state_dict)[:8]}.')
    return selected


def load_sanet_pretrained(model: SAResNet,
                          filename: str,
                          prefix: Optional[str] = None,
                          map_location: Any = 'cpu') -> SANetConversion:
    """Load an SA-ResNet checkpoint into ``model``, checking every key.

    The file is read by mmengine's ``CheckpointLoader`` (weights-only once
    ``sa_mmdet`` is imported), converted by :func:`convert_sanet_state_dict`
    and must fit ``model`` exactly: depth, SA groups and the SA stages. Model
    keys outside the plain SA-ResNet (extra plugins, DCN offsets) keep their
    initialisation. A log line names the leftovers (``fc.weight``,
    ``fc.bias`` for an official file).

    Args:
        model (SAResNet): The backbone to fill.
        filename (str): Local path or URL of the checkpoint.
        prefix (str, optional): Only keys under this prefix, with it removed
            (e.g. ``'backbone.'``). Defaults to None.
        map_location (Any): Same as :func:`torch.load`. Defaults to 'cpu'.

    Returns:
        SANetConversion: What was loaded and left over.

    Raises:
        FileNotFoundError: If a local ``filename`` does not exist; the message
            says where to get or how to make the weights.
        SANetCheckpointError: If the checkpoint does not fit ``model``.
    """
    if '://' not in filename and not osp.isfile(osp.expanduser(filename)):
        raise FileNotFoundError(missing_checkpoint_message(filename))
    state_dict = checkpoint_state_dict(
        CheckpointLoader.load_checkpoint(filename, map_location=map_location))
    if prefix:
        state_dict = _select_prefix(state_dict, prefix)
    conversion = convert_sanet_state_dict(state_dict, depth=model.depth)

    target = model.state_dict()
    unexpected = [k for k in conversion.state_dict if k not in target]
    mismatched = [f'{k}: {tuple(v.shape)} != {tuple(target[k].shape)}'
                  for k, v in conversion.state_dict.items()
                  if k in target and v.shape != target[k].shape]
    if unexpected or mismatched:
        raise SANetCheckpointError(
            f'{filename} holds an SA-ResNet-{conversion.depth} with '
            f'sa_groups={conversion.sa_groups} and SA in every stage, but the '
            f'model (sa_groups={model.sa_groups}, sa_stages={model.sa_stages}) '
            f'differs: {len(unexpected)} checkpoint keys not in the model, e.g. '
            f'{unexpected[:4]}; {len(mismatched)} shape mismatches (checkpoint '
            f'!= model), e.g. {mismatched[:4]}.')
    model.load_state_dict(conversion.state_dict, strict=False)
    kept = [k for k in target if k not in conversion.state_dict]
    print_log(
        f'Loaded SA-ResNet-{conversion.depth} (sa_groups={conversion.sa_groups}) '
        f'from {filename}: {len(conversion.state_dict)} keys checked and '
        f'loaded; left over: {conversion.leftovers or "none"}'
        + (f'; not in the checkpoint, kept their init: {kept}' if kept else ''),
        logger='current')
    return conversion
