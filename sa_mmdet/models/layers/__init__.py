from .folded_shuffle_attention import FoldedShuffleAttention
from .shuffle_attention import ShuffleAttention, channel_shuffle, sa_gate_params

__all__ = ['FoldedShuffleAttention', 'ShuffleAttention', 'channel_shuffle', 'sa_gate_params']
