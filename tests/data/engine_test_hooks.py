"""Hooks that tests put into real training runs (imported via custom_imports)."""

import os
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """``kill -9`` the training job once ``iteration`` iterations are done.

    The whole process group gets SIGKILL (launcher, trainer, dataloader
    workers), as when a scheduler kills a job; run the job in its own session.
    """

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.killpg(os.getpgrp(), signal.SIGKILL)


@HOOKS.register_module()
class SaveRankParamsHook(Hook):
    """Save this rank's parameters to ``out_dir/rank{RANK}.pth`` after training."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def after_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = {name: p.detach().clone() for name, p in model.named_parameters()}
        torch.save(params, os.path.join(self.out_dir, f'rank{get_rank()}.pth'))
