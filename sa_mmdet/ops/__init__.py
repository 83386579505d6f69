from .shuffle_attention import (
    check_sa_groups,
    check_sa_input,
    opmath_dtype,
    sa_backend,
    sa_ext_available,
    sa_kernel_enabled,
    shuffle_attention,
    valid_sa_groups,
)

__all__ = [
    'check_sa_groups',
    'check_sa_input',
    'opmath_dtype',
    'sa_backend',
    'sa_ext_available',
    'sa_kernel_enabled',
    'shuffle_attention',
    'valid_sa_groups',
]
