"""Register :class:`SAResNet` in mmpretrain for ImageNet pretraining.

Needs the optional extra: ``pip install -e ".[pretrain]"`` (mmpretrain 1.2.0).
Configs load it with ``custom_imports=dict(imports=['sa_mmdet.pretrain'])``;
``import sa_mmdet`` alone never touches mmpretrain. The class registered is
mmdet's SAResNet itself, so an mmpretrain checkpoint's ``backbone.*`` keys are
exactly the detector backbone's (see ``configs/imagenet/``). Where torchvision
is not installed, a stand-in lets mmpretrain import (see
:mod:`sa_mmdet.utils.torchvision_stub`).
"""

from .utils import install_torchvision_stub

install_torchvision_stub()

from mmpretrain.registry import MODELS  # noqa: E402

from .models import SAResNet  # noqa: E402

MODELS.register_module(module=SAResNet)

__all__ = ['SAResNet']
