"""ResNet with a chosen attention layer in every bottleneck: the SA-Net paper's baselines."""

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

    The attention sits between a bottleneck's last BatchNorm and the residual
    add (the first ``after_conv3`` plugin), where SA-Net, SENet, ECA-Net,
    SGE-Net and CBAM put theirs. Any layer of mmdet's ``MODELS`` that takes
    ``in_channels`` first and keeps the shape works (mmcv's ``ContextBlock``
    too). Every option of :class:`mmdet.models.ResNet` is kept.

    Args:
        depth (int): Depth of the network, one of {50, 101, 152}.
        attention (dict | Sequence[dict | None]): The attention config for
            every stage, e.g. ``dict(type='SqueezeExcitation')``, or one (or
            None) per stage; ``in_channels`` is filled in.
        plugins (list[dict], optional): Extra mmdet ResNet plugins, placed
            after the attention. Defaults to None.
        **kwargs: Other arguments of :class:`mmdet.models.ResNet`; a
            ``Pretrained`` ``init_cfg`` is loaded strictly (:meth:`init_weights`).

    Raises:
        TypeError: If ``depth`` is not an int (e.g. ``'50'``).
        KeyError: For another int ``depth`` or an unregistered attention type.
        ValueError: For a malformed ``attention``.

    Example:
        >>> import torch
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
        depth = check_depth(depth, self.arch_settings, type(self).__name__)
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
        layers = {}
        for layer_name, cfg in zip(self.res_layers, self.attention_cfgs):
            if cfg is None:
                continue
            for index, block in enumerate(getattr(self, layer_name)):
                name = block.after_conv3_plugin_names[0]
                layers[f'{layer_name}.{index}.{name}'] = getattr(block, name)
        return layers

    def init_weights(self) -> None:
        """Initialise; a ``Pretrained`` init_cfg loads last, see :mod:`.resnet_checkpoint`."""
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
        if cfg['type'] in ('Pretrained', PretrainedInit):
            load_resnet_checkpoint(
                self, cfg['checkpoint'], cfg.get('prefix'), cfg.get('map_location', 'cpu')
            )
        else:  # SANetPretrained, checked as strictly
            WEIGHT_INITIALIZERS.build(cfg)(self)

    def train(self, mode: bool = True) -> 'AttentionResNet':
        """As mmdet's ``ResNet.train``, but return ``self`` as ``nn.Module.train`` does."""
        super().train(mode)
        return self


def _is_pretrained(cfg: Optional[Mapping]) -> bool:
    """Whether an init_cfg entry loads a checkpoint: mmengine's or SANetPretrained."""
    init_type = cfg.get('type') if isinstance(cfg, Mapping) else None
    if isinstance(init_type, str):
        init_type = WEIGHT_INITIALIZERS.get(init_type)
    return isinstance(init_type, type) and issubclass(init_type, PretrainedInit)


def check_depth(depth: object, arch_settings: Mapping, name: str) -> int:
    """``depth`` as a plain int (NumPy integers taken), checked against ``arch_settings``.

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
        try:  # a str or float that spells a valid depth
            hint = f'; pass depth={int(float(depth))}' if float(depth) in valid else ''
        except (TypeError, ValueError, OverflowError):
            hint = ''
        raise TypeError(
            f'invalid depth {depth!r} ({type(depth).__name__}) for {name}: depth must be an '
            f'int, one of {valid}{hint}.'
        )
    if number not in arch_settings:
        raise KeyError(
            f'invalid depth {number} for {name}: use one of {valid}. Depth 18/34 are built from '
            'BasicBlocks, which take no plugins.'
        )
    return number


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
    """Replace a registry name by its class: mmcv's plugins look names up in the default scope."""
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
