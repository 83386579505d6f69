"""Register :class:`SAResNet` in mmpretrain for ImageNet pretraining.

Needs the optional extra: ``pip install -e ".[pretrain]"`` (mmpretrain 1.2.0).
Configs load it with ``custom_imports=dict(imports=['sa_mmdet.pretrain'])``;
``import sa_mmdet`` alone never touches mmpretrain. The class registered is
mmdet's SAResNet itself, so an mmpretrain checkpoint's ``backbone.*`` keys are
exactly the detector backbone's (see ``configs/imagenet/``). mmpretrain's
models import torchvision; where it is missing this module refuses at once,
naming the fixes, instead of failing when the runner builds the model.
"""

import importlib.util

if importlib.util.find_spec('torchvision') is None:
    raise ImportError(
        'sa_mmdet.pretrain needs mmpretrain, whose models import torchvision, which is not '
        'installed. Install the torchvision build that matches your torch, or, on a stack '
        'without one (as this project tests), put tools/stack_shims of the sa_mmdet checkout '
        'on PYTHONPATH, as tools/run_toy.sh does for its pretraining stage.',
        name='torchvision',
    )

from mmpretrain.registry import MODELS  # noqa: E402

from .models import SAResNet  # noqa: E402

MODELS.register_module(module=SAResNet)

__all__ = ['SAResNet']
