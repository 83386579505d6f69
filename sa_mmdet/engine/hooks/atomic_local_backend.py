"""mmengine's local file backend, writing atomically: ``dict(backend='atomic_local')``.

mmengine's ``save_checkpoint`` writes through a file backend's ``put``; the
local backend opens the target with ``open(path, 'wb')``, so a crash mid-write
leaves a truncated checkpoint under the final name. This backend's ``put``
and ``put_text`` go through :func:`sa_mmdet.utils.write_atomically` instead:
a temporary file in the same folder, flushed, fsynced and renamed over the
target, the folder fsynced. Everything else is :class:`LocalBackend`'s.
"""

import os.path as osp
import re
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ...utils import write_atomically

#: The temporary file an interrupted write_atomically leaves: ``.NAME.XXXXXXXX.tmp``.
_LEFTOVER = re.compile(r'^\..+\.[a-z0-9_]{8}\.tmp$')


def is_leftover(path: str) -> bool:
    """Whether ``path`` is the temporary file of an interrupted atomic write.

    Args:
        path (str): A file path.

    Returns:
        bool: True for names like ``.epoch_2.pth.k3j_x9a1.tmp``.
    """
    return bool(_LEFTOVER.match(osp.basename(path)))


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are all or nothing."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str | Path): Path to write data.
        """
        write_atomically(str(filepath), lambda f: f.write(obj))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str | Path): Path to write the text.
            encoding (str): The text's encoding. Defaults to 'utf-8'.
        """
        self.put(obj.encode(encoding), filepath)
