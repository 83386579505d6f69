"""Checkpoint the random number generators so a resumed run continues exactly."""

import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the Python, NumPy and torch random states in every checkpoint.

    mmengine seeds the generators when a run starts but does not checkpoint
    them, so a run resumed with ``--resume`` draws different RPN/RoI samples
    and augmentations than the run it continues. This hook stores the states
    under ``checkpoint['random_state']`` and restores them when the checkpoint
    is resumed, so that (with deterministic kernels) the resumed run ends with
    the weights of an uninterrupted one. Add it with
    ``custom_hooks = [dict(type='RandomStateHook')]``.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # numpy's state as plain data, so that weights-only loading reads it
        name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
        state = dict(
            python=random.getstate(),
            torch=torch.get_rng_state(),
            numpy=(name, keys.tolist(), pos, has_gauss, cached_gaussian),
        )
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['random_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from / testing: keep this run's own seeding
        state = checkpoint.get('random_state')
        if state is None:
            runner.logger.warning(
                'checkpoint has no random_state: the resumed run will '
                'not repeat the random draws of the original one.'
            )
            return
        random.setstate(state['python'])
        name, keys, pos, has_gauss, cached_gaussian = state['numpy']
        np.random.set_state(
            (name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached_gaussian)
        )
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
