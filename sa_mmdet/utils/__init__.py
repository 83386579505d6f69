from .safe_checkpoint import (enable_safe_checkpoints, load_from_local,
                              mmengine_checkpoint_globals, resave_checkpoint)
from .saved_tensors import saved_tensor_bytes

__all__ = [
    'enable_safe_checkpoints', 'load_from_local', 'mmengine_checkpoint_globals',
    'resave_checkpoint', 'saved_tensor_bytes'
]
