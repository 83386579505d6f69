from .folded_shuffle_attention import FoldedShuffleAttention
from .shuffle_attention import ShuffleAttention, channel_shuffle, valid_sa_groups
from .shuffle_attention_function import (ShuffleAttentionFunction, sa_gate_params, sa_group_view,
                                         shuffle_attention)

__all__ = [
    'FoldedShuffleAttention', 'ShuffleAttention', 'ShuffleAttentionFunction', 'channel_shuffle',
    'sa_gate_params', 'sa_group_view', 'shuffle_attention', 'valid_sa_groups'
]
