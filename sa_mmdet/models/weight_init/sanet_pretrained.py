"""``init_cfg=dict(type='SANetPretrained', ...)``: SA-Net weights, every key checked."""

import os.path as osp
from functools import lru_cache
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_with_prefix

from ...utils import checkpoint_file_errors
from ..backbones import SAResNet
from .sanet_converter import (
    SANetCheckpointError,
    SANetConversion,
    checkpoint_state_dict,
    convert_sanet_state_dict,
    missing_checkpoint_message,
)


@lru_cache(maxsize=None)
def sa_resnet_layout(depth: int, sa_groups: int = 64) -> Dict[str, Tuple[int, ...]]:
    """Keys and shapes of a plain ``SAResNet(depth, sa_groups)``'s state dict.

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


@WEIGHT_INITIALIZERS.register_module(name='SANetPretrained')
class SANetPretrainedInit(PretrainedInit):
    """Load SA-Net ImageNet weights into an :class:`SAResNet`, checking every key.

    mmengine's ``Pretrained`` loads whatever matches and only warns about the
    rest. This initializer reads official SA-Net ``.pth.tar`` files, files
    written by ``tools/model_converters/sanet2mmdet.py`` and mmengine
    checkpoints (mmpretrain classifiers, mmdet detectors) with weights-only
    loading, converts them with
    :func:`~.sanet_converter.convert_sanet_state_dict` and requires every key
    and shape of an SA-ResNet of the model's depth and SA groups, with SA in
    every stage; it logs what was left over (``fc.weight``, ``fc.bias``).
    Model keys outside the plain SA-ResNet (extra plugins, DCN offsets) keep
    their initialisation.

    Args:
        checkpoint (str): Local path or URL of the checkpoint.
        prefix (str, optional): Only keys under this prefix, with it removed
            (e.g. ``'backbone.'``). Defaults to None.
        map_location (str): Same as :func:`torch.load`. Defaults to 'cpu'.

    Example:
        >>> backbone = dict(type='SAResNet', depth=50, init_cfg=dict(
        ...     type='SANetPretrained', checkpoint='checkpoints/sa_resnet50.pth.tar'))
    """

    def __init__(
        self, checkpoint: str, prefix: Optional[str] = None, map_location: str = 'cpu'
    ) -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)

    def __call__(self, module: nn.Module) -> SANetConversion:
        """Load the checkpoint into ``module``.

        Args:
            module (nn.Module): An :class:`SAResNet`.

        Returns:
            SANetConversion: What was loaded and left over.

        Raises:
            FileNotFoundError: If a local checkpoint does not exist; the
                message says where to get or how to make the weights.
            SANetCheckpointError: (a ``ValueError``) If the checkpoint is not
                an SA-ResNet that fits ``module``.
            pickle.UnpicklingError: If weights-only loading refuses the file;
                the message says how to re-save it.
        """
        if not isinstance(module, SAResNet):
            raise TypeError(
                f'SANetPretrained initialises an SAResNet, but got '
                f'{type(module).__name__}; use type="Pretrained" for other modules.'
            )
        state_dict = self._load()
        conversion = convert_sanet_state_dict(
            state_dict, sa_resnet_layout(module.depth, module.sa_groups)
        )
        target = module.state_dict()
        unexpected = [k for k in conversion.state_dict if k not in target]
        if unexpected:
            raise SANetCheckpointError(
                f'{self.checkpoint} holds an SA-ResNet-{conversion.depth} with SA in every '
                f'stage, but the model has sa_stages={module.sa_stages}: {len(unexpected)} '
                f'checkpoint keys are not in the model, e.g. {unexpected[:4]}.'
            )
        module.load_state_dict(conversion.state_dict, strict=False)
        kept = [k for k in target if k not in conversion.state_dict]
        print_log(
            f'Loaded SA-ResNet-{conversion.depth} (sa_groups={conversion.sa_groups}) from '
            f'{self.checkpoint}: {len(conversion.state_dict)} keys checked and loaded; left '
            f'over: {conversion.leftovers or "none"}'
            + (f'; not in the checkpoint, kept their init: {kept}' if kept else ''),
            logger='current',
        )
        return conversion

    def _load(self) -> Dict[str, torch.Tensor]:
        """The checkpoint's state dict, under ``prefix`` if one is set."""
        filename = self.checkpoint
        if '://' in filename:
            return self._load_state_dict(filename)
        filename = osp.expanduser(filename)
        if not osp.lexists(filename):
            raise FileNotFoundError(missing_checkpoint_message(filename))
        with checkpoint_file_errors(filename):
            return self._load_state_dict(filename)

    def _load_state_dict(self, filename: str) -> Dict[str, torch.Tensor]:
        try:
            if self.prefix is None:
                return checkpoint_state_dict(
                    _load_checkpoint(filename, map_location=self.map_location, logger='current')
                )
            return _load_checkpoint_with_prefix(self.prefix, filename, self.map_location)
        except AssertionError as error:  # mmengine: no key under the prefix
            raise SANetCheckpointError(f'{filename}: {error}; check init_cfg.prefix.') from error

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load SA-Net weights from {self.checkpoint}'
