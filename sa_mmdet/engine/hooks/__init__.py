from .random_state_hook import RandomStateHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['RandomStateHook', 'WeightsOnlyCheckpointHook']
