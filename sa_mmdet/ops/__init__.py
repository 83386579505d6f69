from .roi_align import RoIAlign, roi_align
from .sa_checks import (
    check_positive_int,
    check_sa_eps,
    check_sa_groups,
    check_sa_input,
    valid_sa_groups,
)
from .shuffle_attention import (
    empty_sa_output,
    opmath_dtype,
    sa_backend,
    sa_ext_available,
    sa_gate_params,
    sa_kernel_enabled,
    shuffle_attention,
)

__all__ = [
    'check_positive_int',
    'check_sa_eps',
    'check_sa_groups',
    'check_sa_input',
    'empty_sa_output',
    'opmath_dtype',
    'roi_align',
    'RoIAlign',
    'sa_backend',
    'sa_ext_available',
    'sa_gate_params',
    'sa_kernel_enabled',
    'shuffle_attention',
    'valid_sa_groups',
]
