from .safe_checkpoint import (enable_safe_checkpoints, load_from_local,
                              mmengine_checkpoint_globals, resave_checkpoint)

__all__ = [
    'enable_safe_checkpoints', 'load_from_local', 'mmengine_checkpoint_globals',
    'resave_checkpoint'
]
