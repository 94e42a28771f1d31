"""Module-level ops: ``tg.maximum``, ``tg.exp``, ``tg.log``, ``tg.concatenate``, ``tg.stack``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.core.tensor import Tensor, apply_op, binary_op, data_array, matmul

__all__ = ["maximum", "exp", "log", "concatenate", "stack", "matmul"]


def _as_tensor(x, where: str) -> Tensor:
    if isinstance(x, Tensor):
        return x

    return Tensor(data_array(x, None, where))


def maximum(a: Tensor | ArrayLike, b: Tensor | ArrayLike) -> Tensor:
    """Elementwise maximum; either side may be a constant, as in ``maximum(0, margins)``.

    At ties the gradient is split in half between the two sides.

    >>> import tinygrad_lc as tg
    >>> tg.maximum(0, tg.Tensor([-1.0, 2.0])).data
    array([0., 2.])
    """
    if isinstance(b, Tensor):
        return binary_op("maximum", a, b)
    return binary_op("maximum", _as_tensor(a, "maximum"), b)  # a Tensor stays itself


def exp(x: Tensor | ArrayLike) -> Tensor:
    """Elementwise ``e**x``.

    >>> import tinygrad_lc as tg
    >>> tg.exp(tg.Tensor([0.0])).data
    array([1.])
    """
    return _as_tensor(x, "exp").exp()


def log(x: Tensor | ArrayLike) -> Tensor:
    """Elementwise natural logarithm (negative inputs are refused).

    >>> import tinygrad_lc as tg
    >>> tg.log(tg.Tensor([1.0])).data
    array([0.])
    """
    return _as_tensor(x, "log").log()


def _joinable(tensors: Sequence, where: str, axis) -> tuple:
    if isinstance(axis, bool | np.bool_) or not isinstance(axis, int | np.integer):
        raise TypeError(f"{where}: axis must be an int, got {type(axis).__name__} {axis!r}")
    if not isinstance(tensors, Tensor | np.ndarray) and not hasattr(tensors, "__len__"):
        tensors = list(tensors)  # a generator or other iterable of tensors
    if isinstance(tensors, Tensor | np.ndarray) or not len(tensors):
        raise ValueError(f"{where}: expected a non-empty list of tensors")
    ts = tuple(_as_tensor(t, where) for t in tensors)
    dtype = np.result_type(*(t.dtype for t in ts))
    return tuple(t if t.dtype == dtype else Tensor(t.data.astype(dtype)) if not t.requires_grad
                 else t for t in ts)


def concatenate(tensors: Sequence[Tensor | ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.

    >>> import tinygrad_lc as tg
    >>> tg.concatenate([tg.Tensor([1.0]), tg.Tensor([2.0, 3.0])]).data
    array([1., 2., 3.])
    """
    ts = _joinable(tensors, "concatenate", axis)
    try:
        np.concatenate([np.empty(t.shape, dtype=np.int8) for t in ts], axis=axis)
    except (ValueError, np.exceptions.AxisError) as exc:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(
            f"concatenate: cannot join shapes {shapes} on axis {axis}: {exc}"
        ) from None
    return apply_op("concatenate", ts, {"axis": axis})


def stack(tensors: Sequence[Tensor | ArrayLike], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis.

    >>> import tinygrad_lc as tg
    >>> tg.stack([tg.Tensor([1.0, 2.0]), tg.Tensor([3.0, 4.0])]).shape
    (2, 2)
    """
    ts = _joinable(tensors, "stack", axis)
    if len({t.shape for t in ts}) != 1:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    if not -(ts[0].ndim + 1) <= axis <= ts[0].ndim:
        raise ValueError(f"stack: axis {axis} is out of range for {ts[0].ndim + 1} dimensions")
    return apply_op("stack", ts, {"axis": axis})
