"""A stand-in for torchvision on this project's tested stack, which has none.

mmpretrain 1.2.0 imports torchvision at module level: ``torchvision.transforms``
to wrap its transforms as optional ``torchvision/*`` pipeline steps and to
subclass ``RandomResizedCrop`` for MAE, ``torchvision.ops.boxes`` for
visual-grounding metrics. Training an image classifier with mmpretrain's own
transforms never calls any of it, but without torchvision not even
``ImageClassifier`` imports; the only torchvision wheel of the tested stack
breaks mmengine's runner. This package is importable only where
``tools/stack_shims`` is on the path: tools/run_toy.sh puts it there for the
pretraining stage when torchvision is missing, and so do the tests that import
mmpretrain. Every name it hands out is a class that raises
``ModuleNotFoundError`` when called or used.
"""

import importlib.machinery
import sys
import types
from typing import Any, NoReturn

__version__ = '0.0.0+sa_mmdet.shim'
_SUBMODULES = (
    'torchvision.transforms',
    'torchvision.transforms.functional',
    'torchvision.transforms.transforms',
    'torchvision.ops',
    'torchvision.ops.boxes',
)


def _fail(name: str) -> NoReturn:
    raise ModuleNotFoundError(
        f'{name} is not available: torchvision is not installed and '
        'tools/stack_shims only stands in for the names mmpretrain imports. '
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


def __getattr__(attr: str) -> Any:
    return _StubModule.__getattr__(sys.modules[__name__], attr)


for _name in _SUBMODULES:
    _module = _StubModule(_name, 'stand-in for the missing torchvision (tools/stack_shims)')
    _module.__spec__ = importlib.machinery.ModuleSpec(_name, None, is_package=True)
    _module.__path__ = []
    sys.modules[_name] = _module
    _parent, _, _child = _name.rpartition('.')
    setattr(sys.modules[_parent], _child, _module)
