from .sanet_converter import (
    SANetCheckpointError,
    SANetConversion,
    checkpoint_state_dict,
    convert_sanet_state_dict,
    missing_checkpoint_message,
    sanet_checkpoint_arch,
)
from .sanet_pretrained import SANetPretrainedInit, sa_resnet_layout

__all__ = [
    'SANetCheckpointError',
    'SANetConversion',
    'SANetPretrainedInit',
    'checkpoint_state_dict',
    'convert_sanet_state_dict',
    'missing_checkpoint_message',
    'sa_resnet_layout',
    'sanet_checkpoint_arch',
]
