"""Write files so that a crash leaves either the old file or the new one, never half of one."""

import contextlib
import os
import os.path as osp
import tempfile
from typing import Any, BinaryIO, Callable

import torch


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the OS lets a folder be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: str, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` through ``write(file)``, all or nothing.

    The data go to a temporary file ``.NAME.XXXXXXXX.tmp`` in the same folder,
    fsynced and renamed over ``path``; the folder is fsynced after. A crash
    leaves the previous ``path`` (or none) and at most that temporary file.

    Args:
        path (str): File to write.
        write (Callable[[BinaryIO], Any]): Writes the content into the binary file it is given.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def save_atomically(obj: Any, path: str) -> None:
    """``torch.save(obj, path)``, all or nothing (see :func:`write_atomically`)."""
    write_atomically(path, lambda f: torch.save(obj, f))


def check_output_path(src: str, dst: str) -> None:
    """Raise unless ``dst`` may be written with what is read from ``src``.

    Raises:
        IsADirectoryError: If ``dst`` is a folder.
        ValueError: If ``dst`` is ``src`` under any name (links included).
    """
    if osp.isdir(dst):
        raise IsADirectoryError(
            f'the output {dst!r} is a folder: give a file name in it, e.g. '
            f'{osp.join(dst, osp.basename(src))!r}.'
        )
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ValueError(
            f'the output {dst!r} is the input {src!r}: writing it would destroy the input. '
            'Give another output path.'
        )
