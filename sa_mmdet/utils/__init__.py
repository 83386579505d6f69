from .atomic_file import check_output_path, save_atomically, write_atomically
from .checkpoint_file import (
    CheckpointFileError,
    check_checkpoint_file,
    checkpoint_file_errors,
    is_zip_checkpoint,
    read_checkpoint,
    weights_only_refusal_message,
)
from .checkpoint_source import load_checkpoint_source, resolve_checkpoint_source
from .config_package import register_config_package

__all__ = [
    'CheckpointFileError',
    'check_checkpoint_file',
    'check_output_path',
    'checkpoint_file_errors',
    'is_zip_checkpoint',
    'load_checkpoint_source',
    'read_checkpoint',
    'register_config_package',
    'resolve_checkpoint_source',
    'save_atomically',
    'weights_only_refusal_message',
    'write_atomically',
]
