"""mmengine's local file backend, writing atomically: ``dict(backend='atomic_local')``."""

from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ...utils import write_atomically


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """:class:`LocalBackend` whose ``put`` and ``put_text`` use :func:`write_atomically`.

    mmengine's ``save_checkpoint`` writes through ``put``; the local backend's
    ``open(path, 'wb')`` leaves a truncated file under the final name on a crash.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath``, all or nothing."""
        write_atomically(str(filepath), lambda f: f.write(obj))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath``, all or nothing."""
        self.put(obj.encode(encoding), filepath)
