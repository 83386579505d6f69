"""``kill -9`` toy training runs at chosen moments of saving their second checkpoint.

``python tests/data/checkpoint_crash.py ROOT HOOK:POINT...`` trains, for each
``HOOK:POINT``, the toy model of ``toy_runner.py`` in ``ROOT/HOOK-POINT`` for 2
epochs with ``default_hooks.checkpoint = dict(type=HOOK, interval=1,
max_keep_ckpts=1)``. While epoch 2 is saved, the run sends itself SIGKILL at
POINT, found by watching the file operations (``open``, ``os.fdopen``,
``os.replace``, ``os.remove``; Linux, for the name of an fdopen-ed file), so
that the kill is deterministic whatever the hook does:

- ``open-checkpoint``: epoch 2's file (or its temporary file) was just created, empty;
- ``mid-checkpoint``: half of epoch 2's bytes are written;
- ``before-rename``: epoch 2's temporary file is whole, not yet renamed;
- ``after-rename``: ``epoch_2.pth`` is in place, ``last_checkpoint`` not updated;
- ``mid-last-checkpoint``: half of the new ``last_checkpoint`` text is written;
- ``after-last-checkpoint``: ``last_checkpoint`` names epoch 2, epoch 1 not removed yet;
- ``after-remove``: ``epoch_1.pth`` was just removed.

Each run is a child forked from this process after the imports (importing
sa_mmdet takes seconds, a toy run a fraction of one); the last line printed is
the JSON ``{"HOOK:POINT": wait status}``, e.g. ``-9`` for SIGKILL, 0 for a run
that finished because the hook never reached POINT.
"""

import argparse
import builtins
import importlib.util
import json
import os
import os.path as osp
import signal
import traceback
import uuid
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import Runner

POINTS = (
    'open-checkpoint',
    'mid-checkpoint',
    'before-rename',
    'after-rename',
    'mid-last-checkpoint',
    'after-last-checkpoint',
    'after-remove',
)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class HalfWriter:
    """A file whose first ``write`` writes half of the data, then kills the process."""

    def __init__(self, file) -> None:
        self.file = file

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        die()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def __getattr__(self, name):
        return getattr(self.file, name)


def arm(point: str) -> None:
    """Watch the file operations, to kill the process at ``point``."""
    real_open, real_fdopen = builtins.open, os.fdopen
    real_replace, real_remove = os.replace, os.remove
    # a file being written whose name contains this (epoch_2.pth, .epoch_2.pth.k3j_x9a1.tmp)
    targets = {
        'open-checkpoint': 'epoch_2.pth',
        'mid-checkpoint': 'epoch_2.pth',
        'mid-last-checkpoint': 'last_checkpoint',
    }

    def watch(opener, file, mode='r', *args, **kwargs):
        f = opener(file, mode, *args, **kwargs)
        if point not in targets or 'w' not in mode or isinstance(file, bytes):
            return f
        path = os.readlink(f'/proc/self/fd/{file}') if isinstance(file, int) else file
        if targets[point] not in osp.basename(path):
            return f
        if point == 'open-checkpoint':
            die()
        return HalfWriter(f)

    def watched_open(file, mode='r', *args, **kwargs):
        return watch(real_open, file, mode, *args, **kwargs)

    def watched_fdopen(fd, mode='r', *args, **kwargs):
        return watch(real_fdopen, fd, mode, *args, **kwargs)

    def watched_replace(src, dst, *args, **kwargs):
        name = osp.basename(dst)
        if point == 'before-rename' and name == 'epoch_2.pth':
            die()
        real_replace(src, dst, *args, **kwargs)
        if (point, name) in (
            ('after-rename', 'epoch_2.pth'),
            ('after-last-checkpoint', 'last_checkpoint'),
        ):
            die()

    def watched_remove(path, *args, **kwargs):
        real_remove(path, *args, **kwargs)
        if point == 'after-remove' and osp.basename(path) == 'epoch_1.pth':
            die()

    builtins.open, os.fdopen = watched_open, watched_fdopen
    os.replace, os.remove = watched_replace, watched_remove


class ArmHook(Hook):
    """Arm the kill when epoch 2 starts (the first checkpoint is saved unwatched)."""

    def __init__(self, point: str) -> None:
        self.point = point

    def before_train_epoch(self, runner) -> None:
        if runner.epoch == 1:
            arm(self.point)


def make_runner(
    work_dir: str,
    hook: str,
    max_epochs: int = 2,
    max_keep_ckpts: int = 1,
    hook_args: Optional[dict] = None,
    **kwargs,
) -> Runner:
    """The toy runner, checkpointing with ``hook`` every epoch (more ``hook_args`` if given)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'toy_runner.py')
    spec = importlib.util.spec_from_file_location('toy_runner', path)
    toy_runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy_runner)

    def build(**args) -> Runner:
        args.update(
            default_hooks=dict(
                checkpoint=dict(
                    type=hook, interval=1, max_keep_ckpts=max_keep_ckpts, **(hook_args or {})
                )
            ),
            experiment_name=f'crash_{uuid.uuid4().hex}',
        )
        return Runner(**args)

    return toy_runner.make_runner(work_dir, max_epochs=max_epochs, runner_cls=build, **kwargs)


def crash(work_dir: str, hook: str, point: str) -> None:
    """Train in ``work_dir`` with ``hook``, to be killed at ``point``."""
    hooks = [dict(type='WeightsOnlyCheckpointHook'), ArmHook(point)]
    make_runner(work_dir, hook, custom_hooks=hooks).train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root')
    parser.add_argument('runs', nargs='+', metavar='HOOK:POINT')
    args = parser.parse_args()

    import sa_mmdet.engine  # noqa: F401  (the hooks)

    statuses = {}
    for run in args.runs:
        hook, point = run.split(':')
        assert point in POINTS, point
        pid = os.fork()
        if pid == 0:  # the child trains, and normally dies at `point`
            code = 0
            try:
                crash(osp.join(args.root, f'{hook}-{point}'), hook, point)
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        statuses[run] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print(json.dumps(statuses))


if __name__ == '__main__':
    main()
