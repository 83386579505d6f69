"""Let mmengine read ``sa_mmdet::`` config names, as it reads ``mmdet::`` ones."""

from mmengine.config.utils import MODULE2PACKAGE


def register_config_package() -> None:
    """Add ``sa_mmdet`` to the packages whose configs mmengine resolves by name.

    mmengine 0.10.7 resolves ``package::path`` config names (``_base_``,
    :func:`mmengine.hub.get_config`) only for a fixed list of OpenMMLab
    packages. This adds ``sa_mmdet``, whose configs are installed in
    ``sa_mmdet/.mim/configs``, so that ``_base_ =
    'sa_mmdet::sa_resnet/faster-rcnn_sa-r50_fpn_1x_coco.py'`` works. Config
    names are resolved when a config is read, before its ``custom_imports``
    run, so this is called by the entry points that read configs
    (``tools/train.py`` and ``tools/test.py``, which ``mim train sa_mmdet``
    and ``mim test sa_mmdet`` run, and :func:`sa_mmdet.analysis.load_config`),
    not by ``import sa_mmdet``. Idempotent.
    """
    MODULE2PACKAGE.setdefault('sa_mmdet', 'sa_mmdet')
