"""Checkpoint the random number generators so that a resumed run continues exactly."""

import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the Python, NumPy, torch (and CUDA) random states in every checkpoint.

    mmengine seeds the generators but does not checkpoint them, so a run
    resumed with ``--resume`` draws other samples and augmentations than the
    run it continues. The states go to ``checkpoint['random_state']`` and are
    restored on resume only. Add it with
    ``custom_hooks = [dict(type='RandomStateHook')]``.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # numpy's state as plain data, so that weights-only loading reads it
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        state = dict(
            python=random.getstate(),
            torch=torch.get_rng_state(),
            numpy=(name, keys.tolist(), pos, has_gauss, gauss),
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
        name, keys, pos, has_gauss, gauss = state['numpy']
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
