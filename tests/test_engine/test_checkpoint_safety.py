"""Crafted checkpoints cannot choose raw memory, change class state, or crash the process.

The crafted files are written here and loaded in a child process that has
imported every part of sa_mmdet: a file that got through would crash the child
(touching a forged object pointer segfaults), which its exit code shows.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from sa_mmdet.engine import load_legacy_checkpoint, to_weights_only

TOY_RUNNER = Path(__file__).resolve().parents[1] / 'data' / 'toy_runner.py'
NUMPY = 'numpy._core.multiarray' if np.__version__ >= '2' else 'numpy.core.multiarray'


class ObjectArrayFromBytes:
    """``numpy.ndarray((1,), dtype('O'), b'A' * 8)``: an object pointer made of eight 'A's."""

    def __reduce__(self):
        return np.ndarray, ((1,), np.dtype('O'), b'A' * 8)


class StructuredDtypeWithoutObjectFlag:
    """A structured dtype with an object field whose state clears numpy's object flag."""

    def __reduce__(self):
        fields = {'a': (np.dtype('O'), 0)}
        return np.dtype, ('V8', False, True), (3, '|', None, ('a',), fields, 8, 1, 0)


class ArrayOfThatDtype:
    def __reduce__(self):
        reconstruct = sys.modules[NUMPY]._reconstruct
        state = (1, (1,), StructuredDtypeWithoutObjectFlag(), False, b'A' * 8)
        return reconstruct, (np.ndarray, (0,), b'b'), state


class ReconstructedObjectArray:
    """numpy's own pickle form of an array, with dtype object and raw bytes."""

    def __reduce__(self):
        reconstruct = sys.modules[NUMPY]._reconstruct
        state = (1, (1,), np.dtype('O'), False, b'A' * 8)
        return reconstruct, (np.ndarray, (0,), b'b'), state


CRAFTED = {
    'object array from bytes': ObjectArrayFromBytes,
    'structured dtype, object flag cleared': ArrayOfThatDtype,
    'reconstructed object array': ReconstructedObjectArray,
}

CHILD = """
import sys, torch
import sa_mmdet, sa_mmdet.engine, sa_mmdet.datasets, sa_mmdet.deploy, analysis_lib
from sa_mmdet.engine import load_legacy_checkpoint
allowed = [g[0] if isinstance(g, tuple) else g for g in torch.serialization.get_safe_globals()]
print('allowed:', [g for g in allowed if 'numpy' in getattr(g, '__module__', '')
                   or 'sa_mmdet' in getattr(g, '__module__', '')])
for path in sys.argv[1:]:
    for load in (torch.load, load_legacy_checkpoint):
        try:
            loaded = load(path)
        except Exception as error:
            print('refused', type(error).__name__)
            continue
        print('LOADED', repr(loaded['meta'][0]))  # touches the element
"""


def test_crafted_arrays_are_refused_by_every_loader_without_crashing(tmp_path, run_python):
    paths = []
    for name, craft in CRAFTED.items():
        paths.append(tmp_path / f'{name.replace(" ", "_").replace(",", "")}.pth')
        torch.save({'state_dict': {}, 'meta': craft()}, paths[-1])
    result = run_python('-c', CHILD, *paths)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == 'allowed: []'  # nothing numpy or sa_mmdet process-wide
    assert lines[1:] == ['refused UnpicklingError'] * (2 * len(CRAFTED))


@pytest.fixture(scope='module')
def make_runner(toy_runner):
    return toy_runner.make_runner


RESUME_CHILD = """
import sys, importlib.util
spec = importlib.util.spec_from_file_location('toy_runner', sys.argv[1])
toy_runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(toy_runner)
import sa_mmdet.engine
runner = toy_runner.make_runner(sys.argv[2], max_epochs=2, resume=True, load_from=sys.argv[3],
                                custom_hooks=[dict(type='WeightsOnlyCheckpointHook')])
try:
    runner.train()
except Exception as error:
    print('refused', type(error).__name__, str(error).splitlines()[0][:200])
    sys.exit(3)
print('RESUMED')
"""


def test_resume_refuses_an_array_planted_in_runtime_info(make_runner, tmp_path, run_python):
    make_runner(
        tmp_path / 'run', max_epochs=1, custom_hooks=[dict(type='WeightsOnlyCheckpointHook')]
    ).train()
    checkpoint = torch.load(tmp_path / 'run' / 'epoch_1.pth')
    checkpoint['message_hub']['runtime_info']['planted'] = ObjectArrayFromBytes()
    planted = tmp_path / 'planted.pth'
    torch.save(checkpoint, planted)
    result = run_python('-c', RESUME_CHILD, TOY_RUNNER, tmp_path / 'resumed', planted)
    assert result.returncode == 3, result.stderr[-2000:]  # refused, not a segfault (-11)
    assert 'refused UnpicklingError' in result.stdout


class CallsGetattr:
    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return getattr, (HistoryBuffer, self.name)


def history_buffer_with_statistics() -> HistoryBuffer:
    """A ``HistoryBuffer`` whose pickled state carries its own statistics registry."""
    buffer = HistoryBuffer([1.0, 2.0], [1, 1], 10)
    buffer.__dict__['_statistics_methods'] = {
        'mean': CallsGetattr('max'),
        'evil': CallsGetattr('min'),
    }
    return buffer


def test_history_buffer_state_cannot_change_class_state(tmp_path):
    HistoryBuffer()  # registers the default statistics
    registry = dict(HistoryBuffer._statistics_methods)
    path = tmp_path / 'legacy.pth'
    torch.save({'message_hub': {'log_scalars': {'loss': history_buffer_with_statistics()}}}, path)
    loaded = load_legacy_checkpoint(str(path))['message_hub']['log_scalars']['loss']
    assert loaded.data[0].tolist() == [1.0, 2.0] and loaded.mean() == 1.5
    assert HistoryBuffer._statistics_methods == registry
    assert HistoryBuffer([3.0, 5.0], [1, 1]).statistics('mean') == 4.0
    # the plain form that our checkpoints hold carries data only
    plain = to_weights_only({'loss': loaded})['loss']
    assert sorted(plain) == ['__sa_mmdet_type__', 'count', 'log', 'max_length']
