"""Build an mmdet model from a config file, offline, with optional weights."""

import copy
from typing import Optional, Union

import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from sa_mmdet.utils import register_config_package


def load_config(config: Union[str, Config]) -> Config:
    """Load a config file, an installed package's config, or copy a config.

    Args:
        config (str | Config): A path, a ``package::path`` name such as
            ``'sa_mmdet::sa_resnet/retinanet_sa-r50_fpn_1x_coco.py'``, or a config.

    Returns:
        Config: A config the caller may modify.
    """
    register_config_package()
    if isinstance(config, Config):
        return copy.deepcopy(config)
    return get_config(config) if '::' in config else Config.fromfile(config)


def build_model_from_config(
    config: Union[str, Config], checkpoint: Optional[str] = None
) -> nn.Module:
    """Build a config's model in eval mode, without pretrained downloads.

    The backbone's ``init_cfg`` is dropped, so nothing is fetched; the model keeps PyTorch's
    default initialisation unless ``checkpoint`` is given.

    Args:
        config (str | Config): A config, as :func:`load_config` takes it.
        checkpoint (str, optional): Weights to load on the CPU. Defaults to None.

    Returns:
        nn.Module: The model, in eval mode.
    """
    cfg = load_config(config)
    if 'backbone' in cfg.model:
        cfg.model.backbone.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmdet')):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model.eval()
    return model
