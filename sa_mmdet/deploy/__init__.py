from .fold_shuffle_attention import fold_shuffle_attention

__all__ = ['fold_shuffle_attention']
