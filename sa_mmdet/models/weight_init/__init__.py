from .sanet_converter import (
    SANetConversion,
    convert_sanet_state_dict,
    missing_checkpoint_message,
    sanet_checkpoint_arch,
)
from .sanet_pretrained import SANetPretrainedInit

__all__ = [
    'SANetConversion',
    'SANetPretrainedInit',
    'convert_sanet_state_dict',
    'missing_checkpoint_message',
    'sanet_checkpoint_arch',
]
