"""Let mmengine read ``sa_mmdet::`` config names, as it reads ``mmdet::`` ones."""

from mmengine.config.utils import MODULE2PACKAGE


def register_config_package() -> None:
    """Add ``sa_mmdet`` to the packages whose ``package::path`` config names mmengine resolves.

    mmengine resolves such names when it reads a config, before its
    ``custom_imports`` run, so the entry points that read configs call this;
    ``import sa_mmdet`` does not. Idempotent.
    """
    MODULE2PACKAGE.setdefault('sa_mmdet', 'sa_mmdet')
