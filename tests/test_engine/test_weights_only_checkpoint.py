"""Checkpoints that torch's weights-only loading reads: the hook, the re-save tool, bad files."""

import collections
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from sa_mmdet.engine import (
    from_weights_only,
    load_legacy_checkpoint,
    resave_checkpoint,
    to_weights_only,
)

HOOK = dict(type='WeightsOnlyCheckpointHook')


@pytest.fixture(scope='module')
def make_runner(toy_runner):
    return toy_runner.make_runner


@pytest.fixture(scope='module')
def hooked_checkpoint(make_runner, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('hooked')
    make_runner(work_dir, max_epochs=1, custom_hooks=[HOOK]).train()
    return work_dir / 'epoch_1.pth'


@pytest.fixture(scope='module')
def plain_checkpoint(make_runner, tmp_path_factory):
    """What mmengine 0.10.7 writes without the hook."""
    work_dir = tmp_path_factory.mktemp('plain')
    make_runner(work_dir, max_epochs=1).train()
    return work_dir / 'epoch_1.pth'


def test_hooked_checkpoint_loads_with_torch_defaults(hooked_checkpoint):
    assert torch.serialization.get_unsafe_globals_in_checkpoint(hooked_checkpoint) == []
    checkpoint = torch.load(hooked_checkpoint)  # weights_only is on by default
    assert 'linear.weight' in checkpoint['state_dict']
    loss = from_weights_only(checkpoint)['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer) and len(loss.data[0]) == 4
    assert loss.mean() == pytest.approx(loss.data[0].mean())


def test_resume_from_a_hooked_checkpoint(make_runner, hooked_checkpoint, tmp_path):
    runner = make_runner(
        tmp_path, max_epochs=2, resume=True, load_from=str(hooked_checkpoint), custom_hooks=[HOOK]
    )
    runner.train()
    assert runner.epoch == 2 and runner.iter == 8
    # the message hub came back from the checkpoint and went on logging
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 8
    milestones = runner.param_schedulers[1].milestones
    assert isinstance(milestones, collections.Counter) and milestones == {1: 1}


def test_checkpoint_without_the_hook_is_refused_then_resaved(plain_checkpoint, tmp_path):
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(plain_checkpoint)
    assert 'builtins.getattr' in unsafe
    with pytest.raises(pickle.UnpicklingError):
        torch.load(plain_checkpoint)
    dst = tmp_path / 'resaved.pth'
    assert resave_checkpoint(str(plain_checkpoint), str(dst)) == unsafe
    # the stand-ins were allowed for that one load only
    allowed = [g[0] if isinstance(g, tuple) else g for g in torch.serialization.get_safe_globals()]
    assert not [
        g
        for g in allowed
        if 'sa_mmdet' in getattr(g, '__module__', '')
        or 'numpy' in getattr(g, '__module__', '')
        or g is getattr
    ]
    checkpoint = from_weights_only(torch.load(dst))
    loss = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer) and len(loss.data[0]) == 4
    # the class-level statistics were not replaced by the getattr stub's None
    assert HistoryBuffer._statistics_methods['min'] is HistoryBuffer.min
    # a Counter is copied, not counted: the scheduler's milestones {1: 1} stay {1: 1}
    milestones = checkpoint['param_schedulers'][1]['milestones']
    assert isinstance(milestones, collections.Counter) and milestones == {1: 1}


@pytest.mark.slow
def test_resave_tool(plain_checkpoint, tmp_path, run_python):
    dst = tmp_path / 'resaved.pth'
    result = run_python('tools/misc/resave_checkpoint.py', plain_checkpoint, dst)
    assert result.returncode == 0, result.stderr
    assert 'builtins.getattr' in result.stdout
    assert torch.serialization.get_unsafe_globals_in_checkpoint(dst) == []


def test_round_trip_of_the_plain_form():
    checkpoint = {
        'message_hub': {'log_scalars': {'loss': HistoryBuffer([1.0, 3.0], [1, 2], 7)}},
        'meta': collections.OrderedDict(seed=np.int64(3), arr=np.arange(4, dtype=np.uint32)),
        'param_schedulers': [{'milestones': collections.Counter({8: 1, 11: 1})}],
        'state_dict': {'w': torch.ones(2)},
    }
    plain = to_weights_only(checkpoint)
    assert plain['meta']['seed'] == 3 and type(plain['meta']['seed']) is int
    restored = from_weights_only(plain)
    loss = restored['message_hub']['log_scalars']['loss']
    assert loss.max_length == 7 and loss.data[0].tolist() == [1.0, 3.0]
    assert loss.data[1].tolist() == [1, 2]
    assert restored['meta']['arr'].dtype == np.uint32
    assert isinstance(restored['meta'], collections.OrderedDict)
    assert restored['param_schedulers'][0]['milestones'] == collections.Counter({8: 1, 11: 1})
    assert restored['state_dict']['w'] is checkpoint['state_dict']['w']


class RunsShell:
    def __reduce__(self):
        return (os.system, ('touch pwned_by_checkpoint',))


class CallsGetattr:
    def __reduce__(self):
        return (getattr, (0, 'real'))


def test_code_executing_pickles_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': RunsShell()}, path)
    for load in (torch.load, load_legacy_checkpoint):
        with pytest.raises(pickle.UnpicklingError, match='system'):
            load(path)
    assert not (tmp_path / 'pwned_by_checkpoint').exists()
    # getattr is refused by default and answered by a stub that executes nothing on re-save
    torch.save({'meta': CallsGetattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(path)
    assert load_legacy_checkpoint(path) == {'meta': None}


def test_resave_refuses_object_arrays_and_malformed_ones(tmp_path):
    # Rule: only numeric numpy arrays are rebuilt; an object array could point anywhere.
    path = tmp_path / 'objects.pth'
    torch.save({'meta': np.array([1, 'a'], dtype=object)}, path)
    with pytest.raises(pickle.UnpicklingError, match='of dtype object'):
        load_legacy_checkpoint(path)
    # Rule: an array's bytes must match its shape and dtype.
    array = np.arange(6, dtype=np.float32)

    class Truncated:
        def __reduce__(self):
            rebuild, args, state = array.__reduce__()
            state = (*state[:4], state[4][:-4])
            return rebuild, args, state

    torch.save({'meta': Truncated()}, path)
    with pytest.raises(pickle.UnpicklingError, match='20 bytes'):
        load_legacy_checkpoint(path)
    # numeric arrays and scalars come back as they were
    torch.save({'a': array.reshape(2, 3), 's': np.float64(2.5)}, path)
    loaded = load_legacy_checkpoint(path)
    assert loaded['a'].tolist() == array.reshape(2, 3).tolist() and loaded['s'] == 2.5


def resave_main(import_tool, *args):
    return import_tool('tools/misc/resave_checkpoint.py').main(list(map(str, args)))


def test_resave_tool_names_an_unreadable_source(unreadable_checkpoint, tmp_path, import_tool):
    path, words = unreadable_checkpoint
    with pytest.raises(SystemExit, match=f'^error: .*{words}'):
        resave_main(import_tool, path, tmp_path / 'dst.pth')
    assert not (tmp_path / 'dst.pth').exists()


def test_resave_tool_never_writes_over_its_source(plain_checkpoint, tmp_path, import_tool):
    src = tmp_path / 'src.pth'
    src.write_bytes(plain_checkpoint.read_bytes())
    with pytest.raises(SystemExit, match='is the input'):
        resave_main(import_tool, src, src)
    with pytest.raises(SystemExit, match='is a folder'):
        resave_main(import_tool, src, tmp_path)
    assert src.read_bytes() == plain_checkpoint.read_bytes()
