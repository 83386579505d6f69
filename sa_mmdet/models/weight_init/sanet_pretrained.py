"""``init_cfg=dict(type='SANetPretrained', ...)``: SA-ResNet weights only, every key checked."""

from typing import Any, Optional

import torch.nn as nn
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS

from ..backbones import SAResNet
from ..backbones.resnet_checkpoint import ResNetCheckpoint, load_resnet_checkpoint
from .sanet_converter import missing_checkpoint_message


@WEIGHT_INITIALIZERS.register_module(name='SANetPretrained')
class SANetPretrainedInit(PretrainedInit):
    """Load SA-ResNet weights into an :class:`SAResNet`, refusing anything else.

    As ``type='Pretrained'`` on an SAResNet (every key and shape checked, see
    :meth:`~sa_mmdet.models.AttentionResNet.init_weights`), but the checkpoint
    must carry the SA weights: official SA-Net ``.pth.tar`` files, files of
    ``tools/model_converters/sanet2mmdet.py``, mmengine checkpoints of SA
    models. A plain ResNet is refused (``type='Pretrained'`` grafts it), and a
    missing file is named with where SA-Net weights come from.

    Args:
        checkpoint (str): Local path, URL or named model.
        prefix (str, optional): Only keys under this prefix, with it removed
            (e.g. ``'backbone.'``). Defaults to None.
        map_location (Any): Same as :func:`torch.load`. Defaults to 'cpu'.

    Example:
        >>> backbone = dict(type='SAResNet', depth=50, init_cfg=dict(
        ...     type='SANetPretrained', checkpoint='checkpoints/sa_resnet50.pth.tar'))
    """

    def __init__(
        self, checkpoint: str, prefix: Optional[str] = None, map_location: Any = 'cpu'
    ) -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)

    def __call__(self, module: nn.Module) -> ResNetCheckpoint:
        """Load the checkpoint into ``module``.

        Args:
            module (nn.Module): An :class:`SAResNet`.

        Returns:
            ResNetCheckpoint: What was loaded, kept and left over.

        Raises:
            TypeError: If ``module`` is not an SAResNet.
            FileNotFoundError: If a local checkpoint does not exist; the
                message says where to get or how to make the weights.
            ResNetCheckpointError: (a ``ValueError``) If the checkpoint is not
                an SA-ResNet that fits ``module``.
            pickle.UnpicklingError: If weights-only loading refuses the file.
        """
        if not isinstance(module, SAResNet):
            raise TypeError(
                f'SANetPretrained initialises an SAResNet, but got '
                f'{type(module).__name__}; use type="Pretrained" for other modules.'
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
