"""mmengine's CheckpointHook, with checkpoints that survive a crash and a checked ``--resume``."""

import glob
import os
import os.path as osp
import re
from typing import List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...utils import write_atomically
from .resume_check import check_resume, verify_checkpoint

#: The temporary file an interrupted write_atomically leaves: ``.NAME.XXXXXXXX.tmp``.
_LEFTOVER = re.compile(r'^\..+\.[a-z0-9_]{8}\.tmp$')


class _DeferredRemoval:
    """A file backend whose ``remove`` and ``rmtree`` only note the path."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.paths: List[str] = []

    def remove(self, path: str) -> None:
        self.paths.append(path)

    rmtree = remove

    def __getattr__(self, name: str):
        return getattr(self.backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """A CheckpointHook after which a crash at any moment leaves a checkpoint to resume.

    CheckpointHook writes in place and removes the oldest checkpoint *before*
    writing the new one. This hook writes checkpoints and ``last_checkpoint``
    atomically to local folders and removes outdated ones after; before loading
    it checks a local ``load_from`` or the checkpoint to resume
    (:func:`~sa_mmdet.engine.hooks.resume_check.check_resume`). Use it with::

        custom_imports = dict(imports=['sa_mmdet.engine'])
        default_hooks = dict(
            checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1))
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.atomic = False

    def before_run(self, runner) -> None:
        """Check the checkpoint to resume, or a local ``load_from``, before the runner loads it."""
        resume = getattr(runner, '_resume', False)
        load_from = getattr(runner, '_load_from', None)
        if not resume:
            if isinstance(load_from, str) and '://' not in load_from:
                verify_checkpoint(load_from)
            return
        # FlexibleRunner takes the path as `resume`, Runner as `load_from`
        load_from = resume if isinstance(resume, str) else runner._load_from
        if not check_resume(runner.work_dir, load_from, runner.logger):
            runner._resume = False  # nothing to resume: not "resumed from None"

    def before_train(self, runner) -> None:
        """Choose atomic writes for a local folder, then set up as CheckpointHook."""
        out_dir = str(self.out_dir if self.out_dir is not None else runner.work_dir)
        self.atomic = (
            '://' not in out_dir
            and self.file_client_args is None
            and self.backend_args in (None, {}, {'backend': 'local'}, {'backend': 'atomic_local'})
        )
        if self.atomic:
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if self.atomic and is_main_process():
            folders = {self.out_dir, runner.work_dir}
            for path in sorted(p for f in folders for p in glob.glob(osp.join(f, '.*.tmp'))):
                if _LEFTOVER.match(osp.basename(path)):
                    os.remove(path)
                    runner.logger.info(f'Removed {path}, left by an interrupted checkpoint write.')

    def _remove_checkpoint(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves folders
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        """Save checkpoint ``step``, point ``last_checkpoint`` at it, then remove the oldest."""
        if not self.atomic:
            return super()._save_checkpoint_with_step(runner, step, meta)
        # CheckpointHook's bookkeeping, but the outdated file goes after the save
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        write_atomically(
            osp.join(runner.work_dir, 'last_checkpoint'), lambda f: f.write(self.last_ckpt.encode())
        )
        if outdated is not None and outdated != step:
            self._remove_checkpoint(
                self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            )

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """CheckpointHook's, removing the previous best checkpoint after saving the new one."""
        if not self.atomic:
            return super()._save_best_checkpoint(runner, metrics)
        backend, deferred = self.file_backend, _DeferredRemoval(self.file_backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        current = {self.last_ckpt, getattr(self, 'best_ckpt_path', None)}
        current.update(getattr(self, 'best_ckpt_path_dict', {}).values())
        for path in deferred.paths:
            if path not in current:  # a best checkpoint saved again under its old name stays
                self._remove_checkpoint(path)
