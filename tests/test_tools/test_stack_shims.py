"""tools/stack_shims: the torchvision stand-in that lets mmpretrain import without torchvision.

Each check runs in a fresh interpreter, so that no stand-in stays in this session's
``sys.modules`` (mmengine's ``torchvision://`` loading must not find one).
"""

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec('torchvision') is not None,
    reason='a real torchvision is installed; the stand-in is not used',
)

USES = """
import importlib.util
import torchvision
import torchvision.ops.boxes as boxes
import torchvision.transforms.functional as F
from torchvision import transforms
from torchvision.transforms.transforms import InterpolationMode

assert torchvision.__version__ == '0.0.0+sa_mmdet.shim' and torchvision.transforms is transforms
assert importlib.util.find_spec('torchvision.transforms') is transforms.__spec__


class MAERandomResizedCrop(transforms.RandomResizedCrop):  # as mmpretrain subclasses it
    pass


assert issubclass(MAERandomResizedCrop, transforms.RandomResizedCrop)
# Rule: anything actually used raises, naming what is missing.
for use in (
    lambda: F.pil_to_tensor(None),
    lambda: boxes.box_iou(1, 2),
    lambda: InterpolationMode.BILINEAR,
    lambda: transforms.RandomResizedCrop(224),
    lambda: torchvision.models.resnet50(),
):
    try:
        use()
    except ModuleNotFoundError as e:
        assert 'torchvision is not installed' in str(e) and e.name == 'torchvision', e
    else:
        raise AssertionError('no error')
print('ok')
"""


def test_imports_that_mmpretrain_makes_succeed_and_uses_raise(run_python, pretrain_env):
    result = run_python('-c', USES, env=pretrain_env)
    assert result.returncode == 0 and result.stdout == 'ok\n', result.stderr[-3000:]


def test_sa_mmdet_pretrain_registers_sa_resnet_with_the_shim(run_python, pretrain_env):
    pytest.importorskip('mmpretrain')
    script = (
        'import sa_mmdet.pretrain\n'
        'from mmpretrain.registry import MODELS\n'
        'from sa_mmdet.models import SAResNet\n'
        "assert MODELS.get('SAResNet') is SAResNet\n"
    )
    result = run_python('-c', script, env=pretrain_env)
    assert result.returncode == 0, result.stderr[-3000:]


def test_sa_mmdet_pretrain_without_torchvision_names_both_fixes(run_python):
    result = run_python('-c', 'import sa_mmdet.pretrain')
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith('ImportError: sa_mmdet.pretrain needs mmpretrain'), error
    assert 'Install the torchvision build' in error and 'tools/stack_shims' in error, error


def test_sa_mmdet_and_its_models_import_without_torchvision(run_python):
    script = (
        'import sys\n'
        'import sa_mmdet, sa_mmdet.models, sa_mmdet.engine, sa_mmdet.datasets\n'
        "assert 'torchvision' not in sys.modules\n"
    )
    result = run_python('-c', script)
    assert result.returncode == 0, result.stderr[-3000:]
