"""Argument and input checks of Shuffle Attention (operator and layers); messages name the fix."""

import math
import numbers
import operator
from typing import List, NoReturn, Optional

import torch
from torch import Tensor


def valid_sa_groups(in_channels: int) -> List[int]:
    """Group counts ``G`` for which ``in_channels`` splits into 2 * G halves.

    Args:
        in_channels (int): Number of input channels ``C``.

    Returns:
        list[int]: Every ``G`` with ``C % (2 * G) == 0``, ascending.
    """
    return [g for g in range(1, in_channels // 2 + 1) if in_channels % (2 * g) == 0]


def check_positive_int(value: object, arg: str, name: str) -> int:
    """Return ``value`` as an int, raising unless it is a positive (Python or NumPy) integer.

    Args:
        value (object): The argument.
        arg (str): Its name, for the message.
        name (str): What is checked, for the message.

    Returns:
        int: ``value`` as a plain int.

    Raises:
        TypeError: For a non-integer (bool included), naming the int a float or str spells.
        ValueError: For zero or a negative integer.
    """
    number = _as_int(value)
    if number is None:
        raise TypeError(
            f'{name} needs {arg} to be a positive int, but got {value!r} '
            f'({type(value).__name__}){_int_hint(value, arg)}.'
        )
    if number <= 0:
        raise ValueError(f'{name} needs a positive {arg}, but got {arg}={number}.')
    return number


def _as_int(value: object) -> Optional[int]:
    """``value`` as a plain int if it is an integer (not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _int_hint(value: object, arg: str) -> str:
    """``'; pass {arg}=N'`` where ``value`` is a float or str that spells the int N."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return ''
    if isinstance(value, bool) or not number.is_integer() or number <= 0:
        return ''
    return f'; pass {arg}={int(number)}'


def check_sa_groups(in_channels: int, groups: int, even: bool, name: str) -> None:
    """Raise unless ``in_channels`` splits into ``2 * groups`` halves.

    It runs on every call of the operator, so valid plain ints cost only a few comparisons.

    Args:
        in_channels (int): Number of input channels ``C``, a positive int.
        groups (int): Number of SA groups ``G``, a positive int.
        even (bool): Whether ``G`` must also be even (all but the reference form).
        name (str): What is checked, for the message.

    Raises:
        TypeError: If ``in_channels`` or ``groups`` is not an int (NumPy ints are, bool not).
        ValueError: Naming the valid group counts.
    """
    if (
        type(in_channels) is int
        and type(groups) is int
        and in_channels > 0
        and groups > 0
        and in_channels % (2 * groups) == 0
        and (not even or groups % 2 == 0)
    ):
        return
    _check_sa_groups_slowly(in_channels, groups, even, name)


def _check_sa_groups_slowly(in_channels: object, groups: object, even: bool, name: str) -> None:
    """:func:`check_sa_groups` for any other arguments."""
    in_channels = check_positive_int(in_channels, 'in_channels', name)
    number = _as_int(groups)
    if number is None:
        raise TypeError(
            f'{name} needs groups to be a positive int, but got {groups!r} '
            f'({type(groups).__name__}){_int_hint(groups, "groups")}. Valid groups for '
            f'in_channels={in_channels}: {_valid_groups(in_channels, even)}.'
        )
    groups = number
    divides = groups > 0 and in_channels % (2 * groups) == 0
    if divides and (not even or groups % 2 == 0):
        return
    odd = '; odd groups run only in ShuffleAttention(implementation="reference")'
    raise ValueError(
        f'{name} needs a positive groups with in_channels divisible by 2 * groups'
        f'{" and an even groups" * even}, but got in_channels={in_channels}, groups={groups}. '
        f'Valid groups for in_channels={in_channels}: {_valid_groups(in_channels, even)}'
        f'{odd * (even and divides)}.'
    )


def _valid_groups(in_channels: int, even: bool) -> List[int]:
    return [g for g in valid_sa_groups(in_channels) if not even or g % 2 == 0]


def check_sa_eps(eps: object, name: str) -> float:
    """Return ``eps`` as a float, raising unless it is a positive finite number.

    Args:
        eps (object): Epsilon of the spatial-attention normalisation.
        name (str): The layer, for the message.

    Returns:
        float: ``eps``.

    Raises:
        TypeError: If ``eps`` is not a real number (bool is not).
        ValueError: If it is not positive and finite.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(
            f'{name} needs eps to be a positive float (e.g. 1e-5), but got {eps!r} '
            f'({type(eps).__name__}).'
        )
    if not 0 < eps < math.inf:
        raise ValueError(
            f'{name} needs a positive, finite eps (e.g. the default 1e-5): it keeps the '
            f'normalisation of a constant plane finite, but got eps={eps}.'
        )
    return float(eps)


#: Method that converts a module or tensor to each float dtype.
_DTYPE_METHODS = {
    torch.float64: 'double',
    torch.float32: 'float',
    torch.float16: 'half',
    torch.bfloat16: 'bfloat16',
}


def check_sa_input(
    x: Tensor, in_channels: int, name: str, param_dtype: Optional[torch.dtype] = None
) -> None:
    """Raise unless ``x`` is an (N, ``in_channels``, H, W) tensor of a dtype the layer takes.

    As for ``nn.GroupNorm``, that is the parameters' dtype, or float16 or bfloat16 with
    float32 parameters.

    Args:
        x (Tensor): The input.
        in_channels (int): Expected channels ``C``.
        name (str): The layer, for the message.
        param_dtype (torch.dtype, optional): The parameters' dtype; None skips the dtype check.

    Raises:
        ValueError: For any other shape.
        RuntimeError: For any other dtype (as PyTorch's layers), naming the conversion.
    """
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(
            f'{name}({in_channels}) expects an input of shape '
            f'(N, {in_channels}, H, W), but got {tuple(x.shape)}.'
        )
    if param_dtype is not None and x.dtype != param_dtype:
        if param_dtype != torch.float32 or x.dtype not in (torch.float16, torch.bfloat16):
            _raise_dtype_mismatch(x.dtype, param_dtype, name)


def _raise_dtype_mismatch(dtype: torch.dtype, param_dtype: torch.dtype, name: str) -> NoReturn:
    def to(target: torch.dtype) -> str:
        method = _DTYPE_METHODS.get(target)
        return f'.{method}()' if method else f'.to({target})'

    fix = f'the input (x{to(param_dtype)})'
    if dtype.is_floating_point:
        fix = f'the layer (layer{to(dtype)}) or {fix}'
    raise RuntimeError(
        f'{name} has {param_dtype} parameters but got a {dtype} input. Like nn.GroupNorm it '
        f"takes an input of its parameters' dtype, or a float16/bfloat16 input with float32 "
        f'parameters. Convert {fix}.'
    )
