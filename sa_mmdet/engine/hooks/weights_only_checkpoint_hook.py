"""Save mmengine checkpoints that weights-only ``torch.load`` reads."""

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..weights_only import from_weights_only, to_weights_only


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Keep checkpoints loadable with torch's default ``weights_only=True``.

    Rewrites what torch >= 2.6 refuses in an mmengine checkpoint as plain data
    before saving and turns it back after loading
    (:mod:`sa_mmdet.engine.weights_only`); nothing is allowlisted or patched.
    Add it with ``custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]``;
    re-save older checkpoints with ``tools/misc/resave_checkpoint.py``.
    """

    priority = 'LOWEST'  # last before saving, after hooks that add to the checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.update(to_weights_only(checkpoint))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.update(from_weights_only(checkpoint))
