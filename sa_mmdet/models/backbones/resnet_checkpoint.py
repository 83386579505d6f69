"""Load ImageNet weights into an attention ResNet, every key checked: never half-load.

mmengine's ``Pretrained`` loads what matches and warns about the rest, which
would make a plain ResNet checkpoint a different network. Here a checkpoint
fits in one of two layouts: ``'attention'``, every backbone key (SA-Net,
mmpretrain SE-ResNet, this project's own), loaded as it is; or ``'plain'``,
every key but the attention layers' (torchvision, mmdet, mmpretrain ResNet),
loaded and then grafted (:mod:`.resnet_graft`). Extra plugins and DCN offsets
may be absent; ``fc.*`` and non-backbone keys are left over; anything else is
refused, naming the keys.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch.nn as nn
from mmdet.models.backbones import ResNet
from mmengine.logging import print_log
from torch import Tensor

from ...utils import load_checkpoint_source
from .resnet_graft import graft_attention

LAYOUTS = ('plain', 'attention')


class ResNetCheckpointError(ValueError):
    """A checkpoint that does not fit the backbone; the message names the keys and the fix."""


@dataclass
class ResNetCheckpoint:
    """What :func:`match_resnet_checkpoint` found.

    Args:
        state_dict (OrderedDict[str, Tensor]): The backbone's tensors, in its order.
        layout (str): ``'plain'`` or ``'attention'``.
        depth (int): The checkpoint's ResNet depth.
        kept (list[str]): Backbone keys it lacks that keep their init.
        leftovers (list[str]): Checkpoint keys outside the backbone.
    """

    state_dict: 'OrderedDict[str, Tensor]'
    layout: str
    depth: int
    kept: List[str] = field(default_factory=list)
    leftovers: List[str] = field(default_factory=list)


def checkpoint_state_dict(checkpoint: Any) -> Dict[str, Tensor]:
    """The ``state_dict`` entry of a loaded checkpoint, or the checkpoint itself.

    Raises:
        ResNetCheckpointError: If that is not a non-empty dict of tensors.
    """
    if isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if (
        not isinstance(checkpoint, Mapping)
        or not checkpoint
        or not all(isinstance(v, Tensor) for v in checkpoint.values())
    ):
        keys = list(checkpoint)[:8] if isinstance(checkpoint, Mapping) else []
        raise ResNetCheckpointError(
            'not a checkpoint of model weights: expected a dict of tensors or a dict with a '
            f'"state_dict" entry, got {type(checkpoint).__name__} with keys {keys}.'
        )
    return dict(checkpoint)


def backbone_keys(
    state_dict: Mapping[str, Tensor], first_key: str, prefix: Optional[str] = None
) -> Tuple[Dict[str, Tensor], List[str]]:
    """The backbone's tensors by key (``module.`` dropped), and the other keys.

    The backbone's keys are those under ``prefix``; without it, those under
    ``backbone.`` if the backbone's ``first_key`` is found only there (an
    mmengine checkpoint of a whole model); else every key.

    Raises:
        ResNetCheckpointError: If no key starts with ``prefix``.
    """
    names = {key.removeprefix('module.'): value for key, value in state_dict.items()}
    leftovers: List[str] = []
    if prefix:
        prefix += '' if prefix.endswith('.') else '.'  # as mmengine's _load_checkpoint_with_prefix
    elif first_key not in names and f'backbone.{first_key}' in names:
        prefix = 'backbone.'
        leftovers = [k for k in names if not k.startswith(prefix)]
    if not prefix:
        return names, []
    inside = {k[len(prefix) :]: v for k, v in names.items() if k.startswith(prefix)}
    if not inside:
        raise ResNetCheckpointError(
            f'no key starts with prefix={prefix!r}; the first keys are {list(names)[:6]}: '
            'set init_cfg.prefix to the backbone\'s (e.g. "backbone.") or leave it out.'
        )
    return inside, leftovers


def blocks_per_stage(names: Sequence[str]) -> Tuple[int, ...]:
    """Blocks in layer1-layer4 of a ResNet state dict."""
    blocks: Dict[str, set] = {}
    for name in names:
        parts = name.split('.')
        if len(parts) > 2 and parts[0].startswith('layer') and parts[1].isdigit():
            blocks.setdefault(parts[0], set()).add(int(parts[1]))
    return tuple(len(blocks.get(f'layer{i}', ())) for i in range(1, 5))


def depth_of(blocks: Tuple[int, ...]) -> Optional[int]:
    """The bottleneck ResNet depth with these blocks per stage, else None."""
    depths = {tuple(n): d for d, (_, n) in ResNet.arch_settings.items() if d >= 50}
    return depths.get(tuple(blocks))


def _plugin_prefixes(backbone: nn.Module) -> Tuple[str, ...]:
    return tuple(
        f'{layer_name}.{index}.{plugin}.'
        for layer_name in getattr(backbone, 'res_layers', ())
        for index, block in enumerate(getattr(backbone, layer_name))
        for position in ('after_conv1', 'after_conv2', 'after_conv3')
        for plugin in getattr(block, f'{position}_plugin_names', ())
    )


def match_resnet_checkpoint(
    state_dict: Mapping[str, Tensor], backbone: nn.Module, prefix: Optional[str] = None
) -> ResNetCheckpoint:
    """Check a checkpoint against a ResNet backbone's keys and shapes (meta device is fine).

    Args:
        state_dict (Mapping[str, Tensor]): The checkpoint's state dict.
        backbone (nn.Module): An mmdet ``ResNet``, with attention or plain.
        prefix (str, optional): Take the keys under it, as mmengine's
            ``init_cfg.prefix``. Defaults to None.

    Returns:
        ResNetCheckpoint: What fits, its layout and depth.

    Raises:
        ResNetCheckpointError: For another depth, missing, partial or
            unexpected backbone keys, or shape mismatches.
    """
    target = backbone.state_dict()
    names, leftovers = backbone_keys(state_dict, next(iter(target)), prefix)
    model_blocks, blocks = blocks_per_stage(target), blocks_per_stage(names)
    depth = depth_of(blocks)
    if not any(blocks):
        raise ResNetCheckpointError(
            f'not a ResNet checkpoint: no layer1-layer4 keys; the first keys are '
            f'{list(names)[:6]}. Check the file, or init_cfg.prefix.'
        )
    if blocks != model_blocks:
        what = f'a ResNet-{depth}' if depth else 'no bottleneck ResNet (50, 101, 152)'
        raise ResNetCheckpointError(
            f'depth mismatch: the checkpoint has {blocks} blocks in layer1-4, {what}, but the '
            f'model is a depth={depth_of(model_blocks)} backbone ({model_blocks}); use the '
            "checkpoint of that depth or build the model with the checkpoint's depth."
        )
    classifier = [k for k in names if k.startswith('fc.') and k not in target]
    leftovers += classifier
    unexpected = [k for k in names if k not in target and k not in classifier]
    if unexpected:
        raise ResNetCheckpointError(
            f'unexpected keys: {len(unexpected)} checkpoint keys are not in the model, e.g. '
            f'{unexpected[:6]}. The checkpoint holds other layers (another attention type, '
            'other sa_stages or plugins); build the backbone it was saved from, or give a plain '
            'ResNet checkpoint.'
        )
    layers = backbone.attention_layers() if hasattr(backbone, 'attention_layers') else {}
    attention = tuple(f'{name}.' for name in layers)
    found = any(k in names for k in target if k.startswith(attention))
    absent = [
        k
        for k in target
        if k not in names
        and not k.endswith('num_batches_tracked')
        and (found or not k.startswith(attention))
    ]
    # extra plugins and DCN offsets may be absent: they keep their init
    extra = tuple(p for p in _plugin_prefixes(backbone) if p not in attention)
    missing = [k for k in absent if not k.startswith(extra) and '.conv_offset.' not in k]
    if missing:
        partial = ' (the attention keys of only some layers)' if found else ''
        raise ResNetCheckpointError(
            f'missing keys{partial}: {len(missing)} keys of the model are not in it, e.g. '
            f'{missing[:6]}. The checkpoint is neither a plain ResNet nor this attention ResNet; '
            'give one of those (docs/checkpoints.md).'
        )
    mismatched = [
        f'{k}: {tuple(names[k].shape)} != {tuple(target[k].shape)}'
        for k in names
        if k in target and names[k].shape != target[k].shape
    ]
    if mismatched:
        raise ResNetCheckpointError(
            f'shape mismatch (checkpoint != model) in {len(mismatched)} keys: '
            + '; '.join(mismatched[:6])
            + ". Build the model with the checkpoint's arguments (e.g. sa_groups, ratio)."
        )
    loaded = OrderedDict((k, names[k]) for k in target if k in names)
    layout = 'attention' if found else 'plain'
    return ResNetCheckpoint(loaded, layout, depth, absent, leftovers)


def load_resnet_checkpoint(
    backbone: nn.Module,
    checkpoint: str,
    prefix: Optional[str] = None,
    map_location: Any = 'cpu',
    layouts: Sequence[str] = LAYOUTS,
    missing_message: Optional[str] = None,
) -> ResNetCheckpoint:
    """Load a checked checkpoint into ``backbone``, grafting attention into a plain one.

    Args:
        backbone (nn.Module): An ``SAResNet`` or ``AttentionResNet``.
        checkpoint (str): Path, URL or named model (``torchvision://resnet50``).
        prefix (str, optional): Take the keys under it. Defaults to None.
        map_location (Any): As for :func:`torch.load`. Defaults to 'cpu'.
        layouts (Sequence[str]): The layouts accepted. Defaults to both.
        missing_message (str, optional): The error for a missing local file;
            None says where ImageNet weights come from.

    Returns:
        ResNetCheckpoint: What was loaded.

    Raises:
        ResNetCheckpointError: If the checkpoint does not fit or its layout is not accepted.
    """
    if missing_message is None:
        depth = depth_of(blocks_per_stage(backbone.state_dict()))
        missing_message = (
            f'checkpoint {checkpoint!r} does not exist. For ImageNet weights give a plain '
            f"ResNet's, e.g. checkpoint='torchvision://resnet{depth}' (downloaded once; the "
            "attention is grafted in exactly), or this attention ResNet's own "
            '(docs/checkpoints.md).'
        )
    state_dict = checkpoint_state_dict(
        load_checkpoint_source(checkpoint, map_location, missing_message)
    )
    match = match_resnet_checkpoint(state_dict, backbone, prefix)
    if match.layout not in layouts:
        raise ResNetCheckpointError(
            f'{checkpoint} is a {match.layout} ResNet-{match.depth} checkpoint; this init takes '
            f'{" or ".join(layouts)} ones. A plain ResNet grafts exactly with '
            "init_cfg=dict(type='Pretrained', checkpoint=...)."
        )
    backbone.load_state_dict(match.state_dict, strict=False)  # every key checked above
    if match.layout == 'plain':
        for name, attention in backbone.attention_layers().items():
            graft_attention(backbone.get_submodule(name.rpartition('.')[0]), attention)
    print_log(
        f'Loaded {match.layout} ResNet-{match.depth} from {checkpoint} into '
        f'{type(backbone).__name__}: {len(match.state_dict)} keys checked'
        + (', attention grafted at constant gates' if match.layout == 'plain' else '')
        + f'; left over: {match.leftovers or "none"}'
        + (f'; kept their init: {match.kept}' if match.kept else ''),
        logger='current',
    )
    return match
