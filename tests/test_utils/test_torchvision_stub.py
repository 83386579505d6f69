"""The torchvision stand-in that lets mmpretrain import without torchvision."""

import importlib
import sys
import types

import pytest

from sa_mmdet.utils.torchvision_stub import (
    STUB_VERSION,
    install_torchvision_stub,
    remove_torchvision_stub,
)


@pytest.fixture
def stub():
    if not install_torchvision_stub():
        pytest.skip('a real torchvision is installed; the stand-in is not used')
    yield sys.modules['torchvision']
    remove_torchvision_stub()
    assert 'torchvision' not in sys.modules


def test_imports_that_mmpretrain_makes_succeed(stub):
    import torchvision.ops.boxes as boxes
    import torchvision.transforms.functional as F
    from torchvision import transforms
    from torchvision.transforms.transforms import InterpolationMode

    assert stub.__version__ == STUB_VERSION and stub.transforms is transforms
    assert importlib.util.find_spec('torchvision.transforms') is transforms.__spec__

    class MAERandomResizedCrop(transforms.RandomResizedCrop):  # as mmpretrain subclasses it
        pass

    # Rule: anything actually used raises, naming what is missing.
    for use in (
        lambda: F.pil_to_tensor(None),
        lambda: boxes.box_iou(1, 2),
        lambda: InterpolationMode.BILINEAR,
        lambda: transforms.RandomResizedCrop(224),
    ):
        with pytest.raises(ModuleNotFoundError, match='torchvision is not installed'):
            use()
    assert issubclass(MAERandomResizedCrop, transforms.RandomResizedCrop)


def test_installing_again_keeps_the_same_modules(stub):
    assert install_torchvision_stub() and sys.modules['torchvision'] is stub


def test_a_real_torchvision_is_left_alone(monkeypatch):
    real = types.ModuleType('torchvision')
    real.__version__ = '0.18.0'
    monkeypatch.setitem(sys.modules, 'torchvision', real)
    assert not install_torchvision_stub()
    assert sys.modules['torchvision'] is real
