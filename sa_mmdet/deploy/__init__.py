from .fold_sa import fold_shuffle_attention

__all__ = ['fold_shuffle_attention']
