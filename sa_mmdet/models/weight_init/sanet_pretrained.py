"""``init_cfg=dict(type='SANetPretrained', ...)``: SA-ResNet weights only, every key checked."""

import torch.nn as nn
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS

from ..backbones import SAResNet
from ..backbones.resnet_checkpoint import ResNetCheckpoint, load_resnet_checkpoint
from .sanet_converter import missing_checkpoint_message


@WEIGHT_INITIALIZERS.register_module(name='SANetPretrained')
class SANetPretrainedInit(PretrainedInit):
    """Load SA-ResNet weights into an :class:`SAResNet`, refusing anything else.

    As ``type='Pretrained'`` on an SAResNet (every key and shape checked), but
    the checkpoint must carry the SA weights (official SA-Net, converted or
    mmengine ones); a plain ResNet is refused, and a missing file is named
    with where SA-Net weights come from.

    Args:
        checkpoint (str): Local path, URL or named model.
        prefix (str, optional): Only keys under this prefix, with it removed
            (e.g. ``'backbone.'``). Defaults to None.
        map_location (Any): Same as :func:`torch.load`. Defaults to 'cpu'.
    """

    def __call__(self, module: nn.Module) -> ResNetCheckpoint:
        """Load the checkpoint into the :class:`SAResNet` ``module``; return what was loaded.

        Raises:
            TypeError: If ``module`` is not an SAResNet.
            FileNotFoundError: If a local checkpoint does not exist.
            CheckpointFileError: If the file is not a readable checkpoint.
            ResNetCheckpointError: If it is not an SA-ResNet checkpoint that fits ``module``.
        """
        if not isinstance(module, SAResNet):
            raise TypeError(
                f'SANetPretrained initialises an SAResNet, but got {type(module).__name__}; '
                'use type="Pretrained" for other modules.'
            )
        return load_resnet_checkpoint(
            module,
            self.checkpoint,
            self.prefix,
            self.map_location,
            layouts=('attention',),
            missing_message=missing_checkpoint_message(self.checkpoint),
        )

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load SA-Net weights from {self.checkpoint}'
