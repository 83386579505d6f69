from .safe_checkpoint import (enable_safe_checkpoints, load_from_local,
                              mmengine_checkpoint_globals, resave_checkpoint)
from .sanet_converter import (SANetCheckpointError, SANetConversion,
                              checkpoint_state_dict, convert_sanet_state_dict,
                              load_sanet_pretrained, missing_checkpoint_message)
from .saved_tensors import saved_tensor_bytes

__all__ = [
    'enable_safe_checkpoints', 'load_from_local', 'mmengine_checkpoint_globals',
    'resave_checkpoint', 'SANetCheckpointError', 'SANetConversion',
    'checkpoint_state_dict', 'convert_sanet_state_dict', 'load_sanet_pretrained',
    'missing_checkpoint_message', 'saved_tensor_bytes'
]
