"""Read checkpoint files, weights only, with errors that name the file and what to do.

``torch.load`` reports what its reader tripped over (an empty file is a bare
``EOFError``, a text file ``KeyError: 101``); here that becomes one error.
"""

import os.path as osp
import pickle
import re
import zipfile
from contextlib import contextmanager
from typing import Any, Iterator

import torch

#: First bytes of torch's two formats: a zip archive, or a pickle (protocol >= 2).
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_MAGIC = b'\x80'
#: What torch raises for a damaged file, besides ``pickle.UnpicklingError``.
_DAMAGE_ERRORS = (RuntimeError, EOFError, KeyError, ValueError, IndexError, OSError)


class CheckpointFileError(OSError):
    """A checkpoint file that cannot be read: a folder, unreadable, empty, damaged, or not one."""


def weights_only_refusal_message(filename: str, error: Exception, resave_hint: bool = True) -> str:
    """Explain a checkpoint that weights-only ``torch.load`` refused.

    Args:
        filename (str): The checkpoint.
        error (Exception): What ``torch.load`` raised.
        resave_hint (bool): Whether to advise the re-save tool. Defaults to True.

    Returns:
        str: A message saying that nothing ran and what to do.
    """
    found = re.search(r'GLOBAL (\S+)', str(error))
    reason = f'it needs {found.group(1)}' if found else _first_sentence(error)
    advice = (
        'A checkpoint written by an mmengine run without the WeightsOnlyCheckpointHook '
        'pickles objects beyond tensors and containers; re-save it with `python '
        'tools/misc/resave_checkpoint.py SRC DST` (weights-only stays on) and use DST.'
        if resave_hint
        else 'No sa_mmdet loader allows that global: the file cannot be read safely.'
    )
    return (
        f'torch refused to load {filename!r} with weights_only=True ({reason}); nothing in '
        f'the file was run. {advice}'
    )


def check_checkpoint_file(filename: str) -> None:
    """Raise unless ``filename`` is a non-empty file this process may read.

    Raises:
        FileNotFoundError: If nothing is at ``filename``.
        CheckpointFileError: If it is a folder, cannot be opened, or is empty.
    """
    if osp.isdir(filename):
        raise CheckpointFileError(
            f'checkpoint {filename!r} is a folder, not a file: give the path of a .pth file in it.'
        )
    if not osp.exists(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist.')
    try:
        with open(filename, 'rb'):
            pass
    except OSError as error:
        raise CheckpointFileError(
            f'checkpoint {filename!r} cannot be opened ({error.strerror}): check its '
            'permissions (`ls -l`) or copy it somewhere this user can read.'
        ) from error
    if osp.getsize(filename) == 0:
        raise CheckpointFileError(
            f'checkpoint {filename!r} is empty (0 bytes): it was cut off while being written '
            'or copied. Write or copy it again, or use an earlier checkpoint.'
        )


def _first_sentence(error: BaseException) -> str:
    text = (str(error).splitlines() or ['-'])[0]
    return text.split('. ')[0].rstrip('.')


def _damage_message(filename: str, error: BaseException) -> str:
    """What is wrong with a file that ``torch.load`` failed to read."""
    with open(filename, 'rb') as f:
        head = f.read(8)
    size = osp.getsize(filename)
    reason = f'{type(error).__name__}: {_first_sentence(error)}'
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC):
        return (
            f'checkpoint {filename!r} is damaged or truncated ({size} bytes; torch: {reason}): '
            'the write or copy was probably interrupted. Write or copy it again, or use an '
            'earlier checkpoint.'
        )
    return (
        f'{filename!r} is not a PyTorch checkpoint: it starts with {head!r}, not with a zip '
        'archive or a pickle as torch.save writes them. Check the path.'
    )


@contextmanager
def checkpoint_file_errors(filename: str, resave_hint: bool = True) -> Iterator[None]:
    """Check a local checkpoint, and explain torch's errors for it in the ``with`` block.

    Errors raised while the file is whole pass unchanged: they are the caller's.

    Args:
        filename (str): Local path of the checkpoint.
        resave_hint (bool): As for :func:`weights_only_refusal_message`. Defaults to True.

    Raises:
        FileNotFoundError: If nothing is at ``filename``.
        CheckpointFileError: If it is unreadable, empty, damaged, or not a checkpoint.
        pickle.UnpicklingError: If weights-only loading refuses a global.
    """
    check_checkpoint_file(filename)
    try:
        yield
    except (pickle.UnpicklingError, *_DAMAGE_ERRORS) as error:
        if isinstance(error, pickle.UnpicklingError) and 'GLOBAL' in str(error):
            message = weights_only_refusal_message(filename, error, resave_hint)
            raise pickle.UnpicklingError(message) from error
        if isinstance(error, (FileNotFoundError, CheckpointFileError)) or _intact(filename):
            raise  # not the file's fault: an error of the code that used it
        raise CheckpointFileError(_damage_message(filename, error)) from error


def is_zip_checkpoint(filename: str) -> bool:
    """Whether ``filename`` starts as a zip archive (torch's format); False if unreadable."""
    try:
        with open(filename, 'rb') as f:
            return f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    except OSError:
        return False


def _intact(filename: str) -> bool:
    """Whether the file is whole: a zip whose every record checks, or a loadable pickle."""
    try:
        if is_zip_checkpoint(filename):
            with zipfile.ZipFile(filename) as archive:
                return archive.testzip() is None
        torch.load(filename, map_location='cpu', weights_only=True)
    except Exception:
        return False
    return True


def read_checkpoint(filename: str, map_location: Any = 'cpu', **kwargs: Any) -> Any:
    """``torch.load`` with weights only, whose every failure names the file and the fix.

    Args:
        filename (str): Local path of the checkpoint.
        map_location (Any): As for :func:`torch.load`. Defaults to 'cpu'.
        **kwargs: Other arguments of :func:`torch.load` (not ``weights_only``).

    Returns:
        Any: The loaded object.

    Raises:
        FileNotFoundError: If nothing is at ``filename``.
        CheckpointFileError: If it is unreadable, empty, damaged, or not a checkpoint.
        pickle.UnpicklingError: If weights-only loading refuses a global.
    """
    with checkpoint_file_errors(filename):
        return torch.load(filename, map_location=map_location, weights_only=True, **kwargs)
