"""Register :class:`SAResNet` in mmpretrain for ImageNet pretraining (``configs/imagenet/``).

Needs the ``pretrain`` extra; configs load it with ``custom_imports``. The
class is mmdet's SAResNet itself, so an mmpretrain checkpoint's ``backbone.*``
keys are the detector backbone's. mmpretrain's models import torchvision,
so without it this module refuses at once, naming the fixes.
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
