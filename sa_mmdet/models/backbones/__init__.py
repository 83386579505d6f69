from .attention_resnet import AttentionResNet
from .resnet_checkpoint import (
    ResNetCheckpoint,
    ResNetCheckpointError,
    checkpoint_state_dict,
    load_resnet_checkpoint,
    match_resnet_checkpoint,
)
from .resnet_graft import ConstantGate, graft_attention
from .sa_resnet import SAResNet

__all__ = [
    'AttentionResNet',
    'ConstantGate',
    'ResNetCheckpoint',
    'ResNetCheckpointError',
    'SAResNet',
    'checkpoint_state_dict',
    'graft_attention',
    'load_resnet_checkpoint',
    'match_resnet_checkpoint',
]
