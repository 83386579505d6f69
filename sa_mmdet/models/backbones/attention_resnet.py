"""ResNet with a chosen attention layer in every bottleneck.

Builds the SA-Net paper's baselines (arXiv 2102.00240, Tables 1, 3 and 4):
SE-, ECA-, SGE- and CBAM-ResNets, with the attention where SA sits.
"""

import operator
from collections.abc import Mapping
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmdet.models.backbones import ResNet
from mmdet.models.backbones.resnet import Bottleneck
from mmdet.registry import MODELS
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS

from .resnet_checkpoint import load_resnet_checkpoint

AttentionCfg = Union[dict, Sequence[Optional[dict]]]


@MODELS.register_module()
class AttentionResNet(ResNet):
    """ResNet whose bottlenecks apply an attention layer after conv3/bn3.

    The attention sits between the last BatchNorm of every bottleneck and the
    residual add (mmdet's plugin position ``after_conv3``, added as the first
    plugin there), where :class:`SAResNet` puts Shuffle Attention and where
    SENet, ECA-Net, SGE-Net and CBAM put theirs. Any layer registered in
    mmdet's ``MODELS`` that takes ``in_channels`` first and keeps the shape
    works: ``SqueezeExcitation``, ``EfficientChannelAttention``,
    ``SpatialGroupEnhance``, ``CBAM``, ``ShuffleAttention``, mmcv's
    ``ContextBlock``. Every option of :class:`mmdet.models.ResNet` is kept;
    user ``plugins`` are added after the attention.

    Args:
        depth (int): Depth of the network, one of {50, 101, 152}.
        attention (dict | Sequence[dict | None]): The attention layer's
            config, e.g. ``dict(type='SqueezeExcitation', ratio=16)``, for
            every stage; or one config (or None for none) per stage, e.g.
            ``[dict(type='EfficientChannelAttention', kernel_size=k) for k in
            (3, 5, 5, 7)]``. ``in_channels`` is filled in per stage.
        plugins (list[dict], optional): Extra mmdet ResNet plugins, placed
            after the attention. Defaults to None.
        **kwargs: Every other argument of :class:`mmdet.models.ResNet`
            (``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``dcn``, ``stage_with_dcn``, ``style``, ``init_cfg``, ...).
            ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``
            loads ImageNet weights with every key checked: a checkpoint of
            this attention ResNet as it is, a plain ResNet's (e.g.
            ``'torchvision://resnet50'``) with the attention grafted in so
            that the network computes the plain ResNet
            (:meth:`init_weights`).

    Raises:
        TypeError: If ``depth`` is not an int (e.g. ``'50'``).
        KeyError: For another int ``depth`` (the message lists the valid
            ones) or an unregistered attention type.
        ValueError: For a malformed ``attention``.

    Example:
        >>> import torch
        >>> from sa_mmdet.models.backbones.attention_resnet import AttentionResNet
        >>> from sa_mmdet.models.layers.se_layer import SqueezeExcitation  # registers it
        >>> model = AttentionResNet(50, attention=dict(type='SqueezeExcitation')).eval()
        >>> [out.shape[1] for out in model(torch.rand(1, 3, 64, 64))]
        [256, 512, 1024, 2048]
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self, depth: int, attention: AttentionCfg, plugins: Optional[List[dict]] = None, **kwargs
    ) -> None:
        depth = check_depth(
            depth,
            self.arch_settings,
            'AttentionResNet',
            'Depth 18/34 are built from BasicBlocks, which take no plugins.',
        )
        num_stages = kwargs.get('num_stages', 4)
        self.attention_cfgs = _per_stage_cfgs(attention, num_stages)
        attention_plugins = [
            dict(
                cfg=_resolve_type(cfg),
                position='after_conv3',
                stages=tuple(other == stage for other in range(num_stages)),
            )
            for stage, cfg in enumerate(self.attention_cfgs)
            if cfg is not None
        ]
        super().__init__(depth, plugins=[*attention_plugins, *(plugins or [])], **kwargs)

    def attention_layers(self) -> Dict[str, nn.Module]:
        """The attention layer of every bottleneck that has one, by module name."""
        return {
            f'{layer_name}.{index}.{block.after_conv3_plugin_names[0]}': getattr(
                block, block.after_conv3_plugin_names[0]
            )
            for stage, layer_name in enumerate(self.res_layers)
            if self.attention_cfgs[stage] is not None
            for index, block in enumerate(getattr(self, layer_name))
        }

    def init_weights(self) -> None:
        """Initialise; a ``Pretrained`` init_cfg loads with every key checked.

        mmengine's ``Pretrained`` loads what matches and warns about the
        rest, which turns a plain ResNet checkpoint into a different network
        (the attention layers change every block's output). Here the
        checkpoint must fit in full, as this backbone's or as a plain ResNet's
        (then the attention is grafted in exactly, see
        :mod:`.resnet_graft`); anything else raises
        :class:`~.resnet_checkpoint.ResNetCheckpointError` naming the keys.
        Other init_cfgs run first, as in mmengine.
        """
        init_cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        pretrained = [cfg for cfg in init_cfgs if _is_pretrained(cfg)]
        if self.is_init or not pretrained:
            super().init_weights()
            return
        if len(pretrained) > 1:
            raise ValueError(f'init_cfg has {len(pretrained)} Pretrained entries; keep one.')
        init_cfg, self.init_cfg = self.init_cfg, [c for c in init_cfgs if c not in pretrained]
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        cfg = pretrained[0]
        if _is_mmengine_pretrained(cfg):
            load_resnet_checkpoint(
                self, cfg['checkpoint'], cfg.get('prefix'), cfg.get('map_location', 'cpu')
            )
        else:  # SANetPretrained, checked as strictly
            WEIGHT_INITIALIZERS.build(cfg)(self)

    def train(self, mode: bool = True) -> 'AttentionResNet':
        """Set train/eval mode, keeping frozen stages and ``norm_eval``.

        mmdet's ``ResNet.train`` returns None; this returns ``self`` as
        :meth:`torch.nn.Module.train` promises, so ``model.eval()`` chains.
        """
        super().train(mode)
        return self


def _is_mmengine_pretrained(cfg: Mapping) -> bool:
    return cfg['type'] in ('Pretrained', PretrainedInit)


def _is_pretrained(cfg: Optional[Mapping]) -> bool:
    """Whether an init_cfg entry loads a checkpoint: mmengine's or SANetPretrained."""
    init_type = cfg.get('type') if isinstance(cfg, Mapping) else None
    if isinstance(init_type, str):
        init_type = WEIGHT_INITIALIZERS.get(init_type)
    return isinstance(init_type, type) and issubclass(init_type, PretrainedInit)


def check_depth(depth: object, arch_settings: Mapping, name: str, note: str = '') -> int:
    """Return ``depth`` as an int, raising unless it is one of ``arch_settings``.

    Args:
        depth (object): The ``depth`` argument of a ResNet.
        arch_settings (Mapping): The valid depths (its keys).
        name (str): The backbone, for the message.
        note (str): Why other depths are left out, for the message.

    Returns:
        int: ``depth`` as a plain int (NumPy integers are taken).

    Raises:
        TypeError: If ``depth`` is not an int (e.g. ``'50'``, ``50.0``, bool).
        KeyError: For an int that is not a valid depth (as mmdet's ResNet).
    """
    valid = sorted(arch_settings)
    try:
        number = None if isinstance(depth, bool) else operator.index(depth)
    except TypeError:
        number = None
    if number is None:
        raise TypeError(
            f'invalid depth {depth!r} ({type(depth).__name__}) for {name}: depth must be an '
            f'int, one of {valid}{_depth_hint(depth, valid)}.'
        )
    if number not in arch_settings:
        raise KeyError(f'invalid depth {number} for {name}: use one of {valid}. {note}'.strip())
    return number


def _depth_hint(depth: object, valid: List[int]) -> str:
    """``'; pass depth=N'`` where ``depth`` is a str or float that spells a valid N."""
    try:
        number = float(depth)
    except (TypeError, ValueError, OverflowError):
        return ''
    return f'; pass depth={int(number)}' if number in valid else ''


def _per_stage_cfgs(attention: AttentionCfg, num_stages: int) -> Tuple[Optional[dict], ...]:
    """One attention config (or None) per stage, checked."""

    def is_cfg(cfg) -> bool:
        return isinstance(cfg, Mapping) and 'type' in cfg

    if is_cfg(attention):
        return (dict(attention),) * num_stages
    if (
        isinstance(attention, Sequence)
        and not isinstance(attention, (str, bytes))
        and len(attention) == num_stages
        and all(cfg is None or is_cfg(cfg) for cfg in attention)
    ):
        return tuple(None if cfg is None else dict(cfg) for cfg in attention)
    raise ValueError(
        f'attention must be a config dict with a "type", e.g. '
        f'dict(type="SqueezeExcitation"), or {num_stages} such dicts (or None), one per stage '
        f'(num_stages={num_stages}), but got {attention!r}.'
    )


def _resolve_type(cfg: dict) -> dict:
    """Replace a registry name by its class, so no default scope is needed.

    mmcv's ``build_plugin_layer`` looks names up in the default scope's
    registry (mmcv's own without one); the class works in every scope.
    """
    if not isinstance(cfg['type'], str):
        return cfg
    layer_type = MODELS.get(cfg['type'])
    if layer_type is None:
        raise KeyError(
            f"attention type {cfg['type']!r} is not registered in mmdet's MODELS; "
            f'import the package that defines it (custom_imports), e.g. '
            f'SqueezeExcitation, EfficientChannelAttention, SpatialGroupEnhance, '
            f'CBAM or ShuffleAttention from sa_mmdet.'
        )
    return dict(cfg, type=layer_type)
