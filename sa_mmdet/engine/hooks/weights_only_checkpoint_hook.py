"""Save mmengine checkpoints that weights-only ``torch.load`` reads."""

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..weights_only import from_weights_only, to_weights_only


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Keep checkpoints loadable with torch's default ``weights_only=True``.

    mmengine 0.10.7 checkpoints hold objects that torch >= 2.6 refuses to
    unpickle by default (the message hub's ``HistoryBuffer``, numpy arrays and
    scalars, a ``Counter``), so ``mim test`` and ``--resume`` fail on them.
    This hook rewrites them as plain data right before a checkpoint is saved
    and turns them back right after one is loaded, before the runner resumes
    from it (:mod:`sa_mmdet.engine.weights_only`). Nothing is allowlisted and
    nothing is patched. Add it with::

        custom_imports = dict(imports=['sa_mmdet', 'sa_mmdet.engine'])
        custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]

    Checkpoints written without it can be re-saved with
    ``tools/misc/resave_checkpoint.py``.
    """

    # last before saving (after hooks that add to the checkpoint)
    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.update(to_weights_only(checkpoint))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.update(from_weights_only(checkpoint))
