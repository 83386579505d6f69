"""mmengine checkpoints load with torch's weights-only defaults once sa_mmdet is imported."""
import os
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import sa_mmdet  # noqa: F401  (enables safe checkpoints)
from sa_mmdet.utils import load_from_local, resave_checkpoint
from toy_runner import make_runner


@pytest.fixture(scope='module')
def mmengine_checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('run')
    make_runner(work_dir, max_epochs=1).train()
    return work_dir / 'epoch_1.pth'


def test_mmengine_checkpoint_loads_with_torch_defaults(mmengine_checkpoint):
    checkpoint = torch.load(mmengine_checkpoint)  # weights_only is on by default
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert len(buffer.data[0]) == 4 and 'statistics_methods' not in buffer.__dict__
    assert buffer.mean() == pytest.approx(buffer.data[0].mean())
    assert 'linear.weight' in checkpoint['state_dict']
    assert torch.serialization.get_unsafe_globals_in_checkpoint(mmengine_checkpoint) == []


def test_resume_from_checkpoint(mmengine_checkpoint, tmp_path):
    runner = make_runner(tmp_path, max_epochs=2, resume=True, load_from=str(mmengine_checkpoint))
    runner.train()
    assert runner.epoch == 2 and runner.iter == 8
    resumed = torch.load(tmp_path / 'epoch_2.pth')
    assert len(resumed['message_hub']['log_scalars']['train/loss'].data[0]) == 8


def test_mmengine_loader_is_weights_only():
    assert CheckpointLoader._schemes[''] is load_from_local


class RunsShell:

    def __reduce__(self):
        return (os.system, ('touch pwned_by_checkpoint',))


class CallsGetattr:

    def __reduce__(self):
        return (getattr, (0, 'real'))


@pytest.mark.parametrize('payload,refused_global', [(RunsShell(), 'system'),
                                                    (CallsGetattr(), 'getattr')])
def test_code_executing_pickles_are_refused(payload, refused_global, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': payload}, path)
    with pytest.raises(pickle.UnpicklingError, match=refused_global):
        torch.load(path)
    with pytest.raises(pickle.UnpicklingError, match='resave_checkpoint.py'):
        load_from_local(str(path))
    assert not (tmp_path / 'pwned_by_checkpoint').exists()


def old_mmengine_getstate(self):
    """mmengine 0.10.7's own HistoryBuffer.__getstate__ (pickles getattr)."""
    self.__dict__.update(statistics_methods=self._statistics_methods)
    return self.__dict__


def test_checkpoint_from_run_without_sa_mmdet_is_refused_then_resaved(tmp_path, monkeypatch):
    buffer = HistoryBuffer([1.0, 2.0], [1, 1])
    src, dst = tmp_path / 'old.pth', tmp_path / 'new.pth'
    with monkeypatch.context() as patch:
        patch.setattr(HistoryBuffer, '__getstate__', old_mmengine_getstate)
        torch.save({'state_dict': {'w': torch.ones(2)}, 'message_hub': {'loss': buffer}}, src)
    assert 'builtins.getattr' in torch.serialization.get_unsafe_globals_in_checkpoint(src)
    with pytest.raises(pickle.UnpicklingError, match='resave_checkpoint.py SRC DST'):
        load_from_local(str(src))

    assert resave_checkpoint(str(src), str(dst)) == ['builtins.getattr']
    checkpoint = torch.load(dst)
    assert checkpoint['message_hub']['loss'].mean() == 1.5
    torch.testing.assert_close(checkpoint['state_dict']['w'], torch.ones(2))
    # The class-level statistics were not replaced by the getattr stub's None.
    assert HistoryBuffer._statistics_methods['min'] is HistoryBuffer.min
