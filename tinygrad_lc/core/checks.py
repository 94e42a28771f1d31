"""Checks run on what users pass in: data, axes, the domains of log, sqrt and powers, options.

The engine uses ``to_array``, ``check_axis``, ``reduction_axis``, ``check_domain`` and
``float_dtype``; the losses, regularizers, optimizer and models share ``check_choice``,
``check_real``, ``check_count`` and ``count_nonfinite``. Each raises a TypeError or ValueError
that names the function, what was expected and what came.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

FLOAT_KINDS = "f"
CASTABLE_KINDS = "iub"  # ints, unsigned ints and bools become float64 unless a dtype is given


def to_array(data, dtype, where: str) -> np.ndarray:
    """Turn user data into an ndarray of a supported dtype, or say what is wrong.

    >>> to_array([1, 2], None, "Tensor").dtype
    dtype('float64')
    >>> to_array("cat", None, "Tensor")
    Traceback (most recent call last):
    ...
    TypeError: Tensor: unsupported data of dtype <U3 (str); expected real numbers ...
    """
    try:
        arr = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"{where}: cannot make an array from {type(data).__name__}: {exc}"
        ) from None
    kind = arr.dtype.kind
    odd_float = kind == "f" and arr.dtype.itemsize not in (4, 8)
    if dtype is None and (kind in CASTABLE_KINDS or odd_float):
        arr = arr.astype(np.float64)  # ints, bools, float16 and long double become float64
    elif odd_float:
        raise TypeError(f"{where}: dtype {arr.dtype} is not supported; use float32 or float64")
    elif kind not in FLOAT_KINDS and kind not in CASTABLE_KINDS:
        raise TypeError(
            f"{where}: unsupported data of dtype {arr.dtype} ({type(data).__name__}); "
            "expected real numbers (float, int or bool)"
        )
    return arr


def normalize_axes(where: str, axes: tuple, ndim: int, shape: tuple, what=None) -> tuple:
    """Each axis as a non-negative int, refusing non-integers, out-of-range and repeats."""
    out = []
    for ax in axes:
        if isinstance(ax, bool | np.bool_) or not isinstance(ax, int | np.integer):
            raise TypeError(f"{where}: axis must be an int or a tuple of ints, got {what!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{where}: axis {what!r} is out of range for shape {shape}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: axis {what!r} repeats an axis (shape {shape})")
    return tuple(out)


def check_axis(where: str, shape: tuple, axis):
    """Validate an axis (int, tuple of ints or None); return it with negative axes resolved.

    >>> check_axis("sum", (2, 3), -1)
    1
    """
    if axis is None:
        return None
    if len(shape) == 0 and axis != () and where not in ("sum", "mean"):
        raise ValueError(f"{where}: axis {axis!r} given for a 0-d tensor")
    axes = normalize_axes(where, axis if isinstance(axis, tuple) else (axis,),
                          max(len(shape), 1), shape, axis)
    return axes if isinstance(axis, tuple) else axes[0]


def reduction_axis(name: str, shape: tuple, axis, keepdims) -> int | tuple | None:
    """The checked axis of reduction ``name``; empty reductions other than sum are refused.

    >>> reduction_axis("max", (2, 0), 1, False)
    Traceback (most recent call last):
    ...
    ValueError: max: cannot reduce over an empty axis (shape (2, 0), axis 1); ...
    """
    axis = check_axis(name, shape, axis)
    if len(shape) == 0:
        axis = None  # NumPy accepts axis 0/-1 on 0-d arrays for sums; treat it as "all"
    if name != "sum":
        reduced = shape if axis is None else [shape[a] for a in np.atleast_1d(axis)]
        if 0 in reduced:
            raise ValueError(
                f"{name}: cannot reduce over an empty axis (shape {shape}, axis {axis!r}); "
                "the result would be undefined"
            )
    if not isinstance(keepdims, bool | np.bool_ | int | np.integer):  # NumPy takes 0 and 1 too
        raise TypeError(f"{name}: keepdims must be True or False, got {keepdims!r}")
    return axis


def check_domain(name: str, d: np.ndarray, rule: str | None = None) -> None:
    """Refuse negative inputs to log, sqrt and fractional powers (they would silently give NaN).

    ``rule`` says what is defined; by default "``name`` is defined for x >= 0 only".

    >>> check_domain("log", np.array([1.0, -2.0]))
    Traceback (most recent call last):
    ...
    ValueError: log: input has 1 negative entry (min -2); log is defined for x >= 0 only
    """
    if d.size and d.min() < 0:
        bad = int((d < 0).sum())
        raise ValueError(
            f"{name}: input has {bad} negative entr{'y' if bad == 1 else 'ies'} "
            f"(min {d.min():.4g}); {rule or f'{name} is defined for x >= 0 only'}"
        )


_FLOAT64 = np.dtype(np.float64)


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The floating dtype in which data of ``dtype`` meets a real constant.

    Float32 and float64 stay as they are; integers and bools become float64, as NumPy promotes
    them with a Python float. The engine gives constant operands this dtype, and code that
    builds its own constant arrays next to a tensor should too.

    >>> float_dtype(np.dtype(np.int64)), float_dtype(np.dtype(np.float32))
    (dtype('float64'), dtype('float32'))
    """
    return dtype if dtype.kind in FLOAT_KINDS else _FLOAT64


def check_flag(where: str, name: str, value) -> bool:
    """``value`` if it is True or False (a NumPy bool too), else a TypeError naming the flag.

    A string is not a flag: ``create_graph="no"`` would be taken as True.

    >>> check_flag("grad", "create_graph", "no")
    Traceback (most recent call last):
    ...
    TypeError: grad: create_graph must be True or False, got 'no'
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(where: str, name: str, value, allowed: tuple) -> str:
    """``value`` if it is one of the strings ``allowed``, else a ValueError listing them.

    >>> check_choice("svm_loss", "reduction", "max", ("mean", "sum"))
    Traceback (most recent call last):
    ...
    ValueError: svm_loss: reduction must be one of 'mean', 'sum', got 'max'
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{where}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        )
    return value


def check_real(where: str, name: str, value, lo: float = 0.0, *, lo_open: bool = False,
               hi: float | None = None) -> float:
    """``value`` as a Python float, finite and in [lo, hi) ((lo, hi) when ``lo_open``).

    0-d arrays are accepted (numbers come back from an ``.npz`` that way); bools are not.
    The message writes ``lo`` as given (``0`` or ``0.0``).

    >>> check_real("fit", "lr", 0.5, lo_open=True)
    0.5
    >>> check_real("fit", "lr", float("inf"), lo_open=True)
    Traceback (most recent call last):
    ...
    ValueError: fit: lr must be a finite number > 0.0, got inf
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bad = not math.isfinite(value) or value < lo or (lo_open and value == lo)
    if hi is not None and value >= hi:
        bad = True
    if bad:
        bounds = f"{'>' if lo_open else '>='} {lo}" if hi is None else f"in [{lo}, {hi})"
        raise ValueError(f"{where}: {name} must be a finite number {bounds}, got {value!r}")
    return value


def check_count(where: str, name: str, value, lo: int) -> int:
    """``value`` as a Python int >= ``lo`` (bools and floats are refused).

    >>> check_count("fit", "batch_size", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: fit: batch_size must be an integer >= 1, got 0
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise TypeError(f"{where}: {name} must be an integer >= {lo}, got {value!r}")
    if value < lo:
        raise ValueError(f"{where}: {name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def count_nonfinite(a: np.ndarray) -> int:
    """How many entries of ``a`` are NaN or infinite (0 for integer arrays).

    One fast pass first: a NaN or inf makes the sum non-finite. Only then (or when huge
    finite values overflow the sum) are the entries counted one by one.

    >>> count_nonfinite(np.array([1.0, np.nan, np.inf])), count_nonfinite(np.full(3, 1e308))
    (2, 0)
    """
    if a.dtype.kind not in "fc":
        return 0
    if a.size <= 65536:  # small (a minibatch's scores): one pass, no error-state switch
        return int(a.size - np.count_nonzero(np.isfinite(a)))
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf or overflow: look closer
        total = a.sum()
    if np.isfinite(total):
        return 0
    return int(a.size - np.count_nonzero(np.isfinite(a)))
