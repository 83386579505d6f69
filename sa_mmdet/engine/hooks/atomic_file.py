"""Write local files atomically, and an mmengine file backend that does so.

:func:`atomic_write` writes to ``PATH.partial`` in the same folder, flushes and
fsyncs it, renames it over ``PATH`` with :func:`os.replace` and fsyncs the
folder: after a crash, ``PATH`` holds either its old content or all of the new
one, never a part. :class:`AtomicLocalBackend` (registered as the file backend
``'atomic_local'``) is mmengine's local backend with ``put`` and ``put_text``
written that way, so ``runner.save_checkpoint(..., backend_args=dict(backend=
'atomic_local'))`` writes the checkpoint atomically.
"""

import os
import os.path as osp
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

#: Suffix of the temporary file an interrupted write may leave behind.
PARTIAL_SUFFIX = '.partial'


def fsync_folder(folder: str) -> None:
    """Make the entries of ``folder`` (new, renamed or removed files) durable.

    Args:
        folder (str): A local folder. Platforms that cannot open a folder
            (Windows) skip the fsync.
    """
    if not hasattr(os, 'O_DIRECTORY'):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Union[str, Path], data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves the old or the new file whole.

    Args:
        path (str | Path): The local file to write; missing folders are made.
        data (bytes): Its new content.
    """
    path = str(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = path + PARTIAL_SUFFIX
    try:
        with open(partial, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        # e.g. a full disk: drop the part written, keep what was at `path`
        if osp.exists(partial):
            os.remove(partial)
        raise
    fsync_folder(folder)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (:func:`atomic_write`)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str | Path): Path to write data.
        """
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str | Path): Path to write the text.
            encoding (str): The text's encoding. Defaults to 'utf-8'.
        """
        atomic_write(filepath, obj.encode(encoding))
