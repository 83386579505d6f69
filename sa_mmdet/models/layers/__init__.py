from .shuffle_attention import ShuffleAttention, channel_shuffle, valid_sa_groups

__all__ = ['ShuffleAttention', 'channel_shuffle', 'valid_sa_groups']
