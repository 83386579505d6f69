"""A stand-in for torchvision, so mmpretrain imports where it is not installed.

mmpretrain 1.2.0 imports torchvision at module level: ``torchvision.transforms``
to wrap its transforms as optional ``torchvision/*`` pipeline steps and to
subclass ``RandomResizedCrop`` for MAE, ``torchvision.ops.boxes`` for
visual-grounding metrics. Training an image classifier with mmpretrain's own
transforms never calls any of it, but without torchvision not even
``ImageClassifier`` can be imported. This project's tested stack has no
torchvision (its only wheel there breaks mmengine's runner), so
:func:`install_torchvision_stub` puts a stand-in into ``sys.modules``: every
name it hands out is a class that raises ``ModuleNotFoundError`` when called
or used. Nothing is installed when a real torchvision is importable.
"""

import importlib.machinery
import importlib.util
import sys
import types
from typing import Any, NoReturn

STUB_VERSION = '0.0.0+sa_mmdet.stub'
_MODULES = (
    'torchvision',
    'torchvision.transforms',
    'torchvision.transforms.functional',
    'torchvision.transforms.transforms',
    'torchvision.ops',
    'torchvision.ops.boxes',
)


def _fail(name: str) -> NoReturn:
    raise ModuleNotFoundError(
        f'{name} is not available: torchvision is not installed and '
        'sa_mmdet.pretrain only stands in for the names mmpretrain imports. '
        'Use mmpretrain transforms (not "torchvision/..." ones) and '
        'classification metrics, or install the torchvision build matching '
        'your torch.',
        name='torchvision',
    )


class _UnavailableMeta(type):
    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith('__'):
            raise AttributeError(attr)
        _fail(f'{cls.__qualname__}.{attr}')


class _StubModule(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith('__'):
            raise AttributeError(attr)
        qualname = f'{self.__name__}.{attr}'
        unavailable = _UnavailableMeta(
            attr,
            (),
            dict(
                __qualname__=qualname,
                __module__=self.__name__,
                __init__=lambda *args, **kwargs: _fail(qualname),
            ),
        )
        setattr(self, attr, unavailable)
        return unavailable


def install_torchvision_stub() -> bool:
    """Put the stand-in into ``sys.modules`` unless torchvision is importable.

    Returns:
        bool: Whether the stand-in is in use (also when installed before).
    """
    stub = sys.modules.get('torchvision')
    if stub is not None or importlib.util.find_spec('torchvision') is not None:
        return getattr(stub, '__version__', None) == STUB_VERSION
    for name in _MODULES:
        module = _StubModule(name, 'sa_mmdet stand-in for the missing torchvision')
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        module.__path__ = []
        sys.modules[name] = module
        parent, _, child = name.rpartition('.')
        if parent:
            setattr(sys.modules[parent], child, module)
    sys.modules['torchvision'].__version__ = STUB_VERSION
    return True


def remove_torchvision_stub() -> None:
    """Take the stand-in out of ``sys.modules`` (a real torchvision stays)."""
    if getattr(sys.modules.get('torchvision'), '__version__', None) == STUB_VERSION:
        for name in _MODULES:
            sys.modules.pop(name, None)
