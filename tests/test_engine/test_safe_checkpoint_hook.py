"""SafeCheckpointHook: a kill -9 while saving leaves a checkpoint to resume; --resume is checked."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

import sa_mmdet.engine  # noqa: F401  (registers the hooks)
from sa_mmdet.engine.hooks import AtomicLocalBackend
from sa_mmdet.utils.checkpoint_file import CheckpointFileError

DATA = Path(__file__).resolve().parents[1] / 'data'
WEIGHTS_ONLY = dict(type='WeightsOnlyCheckpointHook')


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DATA / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crash, toy_runner = _load('checkpoint_crash'), _load('toy_runner')
# where mmengine's CheckpointHook loses every checkpoint: it removes epoch 1 before writing epoch 2
OLD_HOOK_LOSES_AT = ('open-checkpoint', 'mid-checkpoint', 'after-remove')
# points where SafeCheckpointHook's temporary file is left (and the next run removes it)
TEMPORARY_FILE_POINTS = (
    'open-checkpoint',
    'mid-checkpoint',
    'before-rename',
    'mid-last-checkpoint',
)


def make_runner(work_dir, **kwargs):
    """The toy runner with SafeCheckpointHook and weights-only checkpoints."""
    kwargs.setdefault('custom_hooks', [WEIGHTS_ONLY])
    return crash.make_runner(str(work_dir), 'SafeCheckpointHook', **kwargs)


def resumable(work_dir: Path):
    """The checkpoint ``last_checkpoint`` names, if torch.load with its defaults reads it."""
    try:
        path = (work_dir / 'last_checkpoint').read_text()
        return path, torch.load(path)
    except Exception:  # missing, truncated, or not a checkpoint: nothing to resume
        return None, None


def log_text(runner) -> str:
    return Path(runner.log_dir, f'{runner.timestamp}.log').read_text()


@pytest.fixture(scope='module')
def crashed(run_python, tmp_path_factory):
    """Work dirs of toy runs killed while saving epoch 2, and how each process ended."""
    root = tmp_path_factory.mktemp('crashed')
    runs = [f'SafeCheckpointHook:{point}' for point in crash.POINTS]
    runs += [f'CheckpointHook:{point}' for point in OLD_HOOK_LOSES_AT]
    result = run_python(DATA / 'checkpoint_crash.py', root, *runs, env=dict(OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    return root, json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize('point', crash.POINTS)
def test_kill_while_saving_leaves_a_checkpoint_that_resumes(crashed, point):
    root, statuses = crashed
    work_dir = root / f'SafeCheckpointHook-{point}'
    assert statuses[f'SafeCheckpointHook:{point}'] == -9  # killed at `point`
    path, checkpoint = resumable(work_dir)
    assert checkpoint is not None, sorted(p.name for p in work_dir.iterdir())
    assert Path(path).name in ('epoch_1.pth', 'epoch_2.pth')
    assert checkpoint['meta']['epoch'] == int(Path(path).stem[-1])
    killed_in_a_temporary_file = point in TEMPORARY_FILE_POINTS
    assert bool(list(work_dir.glob('.*.tmp'))) == killed_in_a_temporary_file

    runner = make_runner(work_dir, resume=True)
    runner.train()
    assert runner.epoch == 2
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_2.pth')
    assert torch.load(work_dir / 'epoch_2.pth')['meta']['epoch'] == 2
    assert not list(work_dir.glob('.*.tmp'))  # the resumed run removed the leftovers
    if point != 'after-last-checkpoint':  # killed before epoch 1 was removed: it stays
        assert not (work_dir / 'epoch_1.pth').exists()


@pytest.mark.slow
@pytest.mark.parametrize('point', OLD_HOOK_LOSES_AT)
def test_mmengines_checkpoint_hook_loses_every_checkpoint(crashed, point):
    # the bug SafeCheckpointHook fixes, with the same kill points
    root, statuses = crashed
    assert statuses[f'CheckpointHook:{point}'] == -9
    assert resumable(root / f'CheckpointHook-{point}') == (None, None)


def test_keeps_max_keep_ckpts_and_leaves_no_temporary_file(tmp_path):
    runner = make_runner(tmp_path, max_epochs=3, max_keep_ckpts=2)
    runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_2.pth', 'epoch_3.pth']
    assert runner.message_hub.get_info('keep_ckpt_ids') == [2, 3]
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_3.pth')
    assert torch.load(tmp_path / 'epoch_3.pth')['message_hub']['runtime_info']['keep_ckpt_ids']
    assert not list(tmp_path.glob('.*.tmp'))


class EpochMetric(BaseMetric):
    """'acc' = the epoch number, so that every validation makes a new best checkpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0

    def process(self, data_batch, data_samples) -> None:
        self.results.append(0)

    def compute_metrics(self, results) -> dict:
        self.epoch += 1
        return dict(acc=float(self.epoch))


class RecordBestSaves(Hook):
    """List the best checkpoints whenever a best checkpoint (no optimizer) is being saved."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir, self.listings = work_dir, []

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'optimizer' not in checkpoint:
            self.listings.append(sorted(p.name for p in self.work_dir.glob('best_*')))


def test_previous_best_checkpoint_is_removed_after_the_new_one_is_saved(tmp_path):
    record = RecordBestSaves(tmp_path)
    runner = make_runner(
        tmp_path,
        hook_args=dict(save_best='acc', rule='greater'),
        custom_hooks=[WEIGHTS_ONLY, record],
        val_dataloader=dict(
            dataset=toy_runner.ToyDataset(),
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
        ),
        val_cfg=dict(),
        val_evaluator=[EpochMetric()],
    )
    runner.train()
    # while epoch 2's best checkpoint was written, epoch 1's was still there
    assert record.listings == [[], ['best_acc_epoch_1.pth']]
    assert sorted(p.name for p in tmp_path.glob('best_*')) == ['best_acc_epoch_2.pth']
    assert torch.load(tmp_path / 'best_acc_epoch_2.pth')['meta']['epoch'] == 2


def test_atomic_backend_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / 'last_checkpoint'
    AtomicLocalBackend().put_text('old', path)

    def full_disk(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr('os.fsync', full_disk)
    with pytest.raises(OSError, match='No space'):
        AtomicLocalBackend().put(b'new', path)
    assert path.read_bytes() == b'old' and [p.name for p in tmp_path.iterdir()] == [path.name]


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_resume_of_a_damaged_checkpoint_names_it_and_the_previous_one(tmp_path):
    make_runner(tmp_path, max_keep_ckpts=2).train()
    damaged, previous = tmp_path / 'epoch_2.pth', tmp_path / 'epoch_1.pth'
    truncate(damaged)
    for load_from in (None, str(damaged)):  # --resume, and --resume PATH
        runner = make_runner(tmp_path, max_epochs=3, resume=True, load_from=load_from)
        with pytest.raises(CheckpointFileError) as error:
            runner.train()
        message = str(error.value)
        assert message.startswith(f'Resume from {previous} with `--resume {previous}`')
        assert f"load_from='{previous}'" in message
        assert f"'{damaged}' is damaged or truncated" in message
        assert runner.iter == 0  # failed before loading or training anything


def test_resume_of_a_damaged_only_checkpoint_says_to_train_from_scratch(tmp_path):
    make_runner(tmp_path, max_epochs=1).train()
    truncate(tmp_path / 'epoch_1.pth')
    with pytest.raises(CheckpointFileError, match='^Train from scratch without --resume'):
        make_runner(tmp_path, resume=True).train()


def test_resume_with_nothing_to_resume_warns_and_trains_from_scratch(tmp_path):
    runner = make_runner(tmp_path, resume=True)
    runner.train()
    assert runner.epoch == 2
    log = log_text(runner)
    assert f'WARNING - Nothing to resume: {tmp_path} has no last_checkpoint file' in log
    assert 'This run starts from scratch.' in log
    assert 'Auto resumed from the latest checkpoint None' not in log


def test_resume_with_last_checkpoint_naming_a_missing_file_warns(tmp_path):
    missing = tmp_path / 'elsewhere' / 'epoch_7.pth'
    (tmp_path / 'last_checkpoint').write_text(str(missing))
    runner = make_runner(tmp_path, resume=True)
    runner.train()
    assert runner.epoch == 2
    expected = f"Nothing to resume: {tmp_path / 'last_checkpoint'} names '{missing}', which "
    assert expected + 'does not exist' in log_text(runner)


def test_resume_without_last_checkpoint_but_with_a_checkpoint_says_how(tmp_path):
    make_runner(tmp_path, max_epochs=1).train()
    (tmp_path / 'last_checkpoint').unlink()
    checkpoint = tmp_path / 'epoch_1.pth'
    with pytest.raises(FileNotFoundError, match=f'^Resume from {checkpoint} with `--resume'):
        make_runner(tmp_path, resume=True).train()


def test_load_from_an_unreadable_checkpoint_names_it(tmp_path, unreadable_checkpoint):
    # load_from without --resume: fine-tuning, and `mim test --checkpoint`
    path, words = unreadable_checkpoint
    runner = make_runner(tmp_path / 'run', load_from=str(path))
    with pytest.raises(CheckpointFileError, match=words) as error:
        runner.train()
    assert str(path) in str(error.value)
    assert runner.iter == 0
