from .folded_shuffle_attention import FoldedShuffleAttention
from .sa_ext import sa_backend, sa_ext_available, sa_kernel_enabled
from .shuffle_attention import ShuffleAttention, channel_shuffle, valid_sa_groups
from .shuffle_attention_function import (ShuffleAttentionFunction, sa_gate_params, sa_group_view,
                                         shuffle_attention)

__all__ = [
    'FoldedShuffleAttention', 'ShuffleAttention', 'ShuffleAttentionFunction', 'channel_shuffle',
    'sa_backend', 'sa_ext_available', 'sa_gate_params', 'sa_group_view', 'sa_kernel_enabled',
    'shuffle_attention', 'valid_sa_groups'
]
