"""How gradcheck evaluates f: inputs perturbed in place, central differences, kink logs.

The helpers behind :mod:`tinygrad_lc.gradcheck`: call ``f`` while logging which side of each
kink every op is on (``tensor.kink_log``), take one central difference with the entry
restored bitwise afterwards, work on float64 copies of Tensors, and check the arguments.

>>> import numpy as np
>>> x = np.array([1.0, 2.0])
>>> diff, _, _ = probe("demo", x, (1,), 1e-4, lambda: np.sum(x ** 2), float)
>>> round(diff, 6), x  # d/dx[1] of sum(x ** 2); x is as before
(4.0, array([1., 2.]))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from tinygrad_lc.core import tensor as _engine
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.core.tensor import Tensor


def caller(f: Callable, x) -> Callable:
    """f() if f takes no positional argument, else f(x) (the classic assignment's style)."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return lambda: f(x)
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.VAR_POSITIONAL)
    return (lambda: f(x)) if any(p.kind in kinds for p in params) else f


def evaluate(call: Callable) -> tuple:
    """Run ``call()`` while logging kink states; return (its result, the kink log)."""
    with _engine.kink_log() as log:
        return call(), log


def scalar_value(where: str, value, u: np.ndarray | None = None) -> float:
    """A finite Python float from f's result (contracted with ``u`` when f is not scalar)."""
    arr = value._data if isinstance(value, Tensor) else np.asarray(value)
    if u is not None:
        arr = np.sum(arr * u)
    elif arr.size != 1:
        raise ValueError(f"{where}: f must return a scalar, got a result of shape {arr.shape}")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: f must return a real number, got dtype {arr.dtype}")
    v = float(arr.reshape(()))
    if not np.isfinite(v):
        raise ValueError(f"{where}: f returned {v}; a finite loss is needed for differences")
    return v


def value_array(where: str, value) -> np.ndarray:
    """f's (non-scalar) result as a finite float64 array."""
    arr = np.asarray(value._data if isinstance(value, Tensor) else value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: f must return real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: f returned NaN or inf; finite values are needed for "
                         "differences")
    return arr


def probe(where: str, work: np.ndarray, idx: tuple, h: float, call: Callable, value,
           contract: Callable | None = None):
    """Central difference at ``work[idx]``; the entry is restored bitwise even if f raises.

    With ``contract`` the values are arrays, subtracted entry by entry before ``contract``
    sums them up (``sum((f(x+h) - f(x-h)) * u)``): each entry keeps its own rounding error
    instead of that of the largest sum.
    """
    orig = work[idx]  # a NumPy scalar: an exact copy of the entry
    try:
        work[idx] = orig + h
        up, (vp, lp) = float(work[idx]), evaluate(call)
        vp = value(vp)
        work[idx] = orig - h
        down, (vm, lm) = float(work[idx]), evaluate(call)
        vm = value(vm)
    finally:
        work[idx] = orig
    if up == down:  # the step vanished in rounding
        raise ValueError(f"{where}: the step h={h:g} is lost to rounding at index {idx} "
                         f"(value {float(orig):g}); use a larger h")
    diff = vp - vm if contract is None else contract(vp - vm)
    # divide by the step really taken (x+h and x-h are rounded to the array's dtype)
    return diff / (up - down), lp, lm


def narrow(where: str, x) -> str | None:
    """The note to give when x is float32 (or another non-float64 float)."""
    dtype = getattr(x._data if isinstance(x, Tensor) else x, "dtype", None)
    if not isinstance(x, Tensor | np.ndarray) or dtype is None or dtype == np.float64 \
            or dtype.kind != "f":
        return None
    if isinstance(x, Tensor):
        return (f"{where}: {input_label(x, None)} is {dtype}; checked in float64 on a temporary "
                "copy (float32 rounding would swamp the finite differences)")
    return (f"{where}: x is a {dtype} ndarray, perturbed in place in {dtype}: steps are rounded "
            "and f runs in low precision, so expect errors near 1e-3; pass a float64 array")


@contextmanager
def perturbable(where: str, x):
    """Yield the array to perturb: a float64 copy swapped into a Tensor, or the ndarray itself."""
    if isinstance(x, Tensor):
        if x._data.dtype.kind != "f":
            raise TypeError(f"{where}: x must hold floats, got a Tensor of dtype {x.dtype}")
        with float64_copies([x]), no_grad():
            yield x._data
    elif isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise TypeError(f"{where}: x must hold floats, got dtype {x.dtype} "
                            "(use x.astype(np.float64))")
        if not x.flags.writeable:
            raise ValueError(f"{where}: x is read-only; it is perturbed in place, pass a copy")
        yield x
    else:
        raise TypeError(f"{where}: x must be an np.ndarray or a Tensor (it is perturbed in "
                        f"place), got {type(x).__name__}")


@contextmanager
def float64_copies(tensors: list):
    """Swap each tensor's data for a float64 copy; put the original array objects back."""
    saved = [t._data for t in tensors]
    try:
        for t in tensors:
            t._data = np.array(t._data, dtype=np.float64)
        yield
    finally:
        for t, d in zip(tensors, saved):
            t._data = d


def check_callable(where: str, f) -> None:
    if not callable(f):
        raise TypeError(f"{where}: f must be callable (a function of the inputs), "
                        f"got {type(f).__name__}")


def check_step(where: str, h) -> float:
    if not isinstance(h, int | float | np.floating) or not np.isfinite(h) or h <= 0:
        raise ValueError(f"{where}: the step must be a positive finite number, got {h!r}")
    return float(h)


def input_label(t: Tensor, i: int | None) -> str:
    pos = "" if i is None else f" (input {i})"
    return f"'{t.name}'{pos}" if t.name else (f"input {i}" if i is not None else "the tensor")


def kink_change(base: list, other: list) -> tuple | None:
    """(op, scope, changed entries) of the first kink op whose state differs, else None."""
    if len(base) != len(other) or any(
        b[0] != o[0] or np.shape(b[2]) != np.shape(o[2]) for b, o in zip(base, other)
    ):
        return ("(control flow)", "", "f evaluated a different sequence of kink ops")
    for (name, scope, s0), (_, _, s1) in zip(base, other):
        if not np.array_equal(s0, s1):
            changed = np.argwhere(np.asarray(s0) != np.asarray(s1))[:4]
            return name, scope, [tuple(int(i) for i in e) for e in changed]
    return None
