"""NumPy's functions and ufuncs on tensors: ``np.exp(t)``, ``np.sum(t, axis=0)``, ``arr * t``.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` hand every NumPy call with a
tensor among its arguments to :func:`array_ufunc` and :func:`array_function` here:

1. A function or ufunc of :data:`TABLE` runs its Tensor op: the call records on the graph and
   returns a Tensor, the very tensor the tinygrad_lc spelling gives (``np.exp(t)`` is
   ``t.exp()``, ``np.maximum(0, t)`` is ``tg.maximum(0, t)``, ``np.sum(t, axis=0)`` is
   ``t.sum(axis=0)``), in the same dtype. Options the op has no use for (``out=``,
   ``where=``, ``dtype=``, ...) are a TypeError that says what to write instead.
2. A function whose result carries no gradient (:data:`NO_GRADIENT`: comparisons,
   ``np.isfinite``, ``np.argmax``, ``np.shape``, ...) runs on the values and returns what NumPy
   returns for them, without a graph.
3. Any other function or ufunc given a tensor that requires grad (while grad is recorded) is
   a TypeError that names the tinygrad_lc way to write it: its result would have no graph,
   and the gradient would silently stop there.
4. Otherwise (tensors without grad, or inside ``tg.no_grad()``) NumPy runs on the values and
   returns what it returns for arrays, as PyTorch's tensors without grad do.

A call that would write into a tensor (``out=`` a tensor, ``np.add.at``, ``np.copyto``) is
refused: the engine would not see the change (``t.assign_`` is the way). A foreign array type
among the arguments makes NumPy try that type's own protocol (NotImplemented here).

This module uses ``tensor.py`` and ``functional.py``, so it sits above them; importing it puts
its two entry points into ``tensor.py`` (``tinygrad_lc/__init__.py`` imports it).

>>> import tinygrad_lc as tg
>>> t = tg.Tensor([0.0, 1.0], requires_grad=True)
>>> np.exp(t).sum().backward()
>>> t.grad
array([1.        , 2.71828183])
>>> np.sort(t)
Traceback (most recent call last):
...
TypeError: np.sort is not differentiable in tinygrad_lc: ...
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, Final, overload

import numpy as np

from tinygrad_lc.core import functional
from tinygrad_lc.core import tensor as engine
from tinygrad_lc.core.tensor import Tensor, binary_op, current_modes, data_array, matmul

__all__ = ["TABLE", "NO_GRADIENT", "array_ufunc", "array_function"]


class NotGiven(Enum):
    """An option the caller did not pass (NumPy passes only what was given). An enum of one
    member, so that a type checker narrows ``if x is NOT_GIVEN``."""

    NOT_GIVEN = "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


# ---------------------------------------------------------------------- options
# what to write instead of an option a Tensor op has no use for
ADVICE = {
    "out": "tensors are never written in place; use the returned tensor (y = {call}(...))",
    "where": "ops on tensors have no mask; compute everywhere, then keep entries with a mask "
             "(t * mask) or by indexing (t[mask])",
    "dtype": "an op keeps its inputs' float dtype; make the tensor in the dtype you want "
             "(Tensor(x.astype(np.float32), requires_grad=True))",
    "initial": "a reduction starts from its own entries; combine the start value afterwards "
               "(tg.maximum(t.max(), start), t.sum() + start)",
    "order": "tensors are reshaped in C order only; for another order, transpose first "
             "(t.T.reshape(...).T)",
    "copy": "ops never write into their inputs, so there is nothing to copy or share",
}
# the values that mean "not given" for the options NumPy passes through as written
DEFAULTS = {"out": (None, ()), "where": (True,), "dtype": (None,), "casting": ("same_kind",),
            "order": ("K", "C"), "subok": (True,), "signature": (None,), "copy": (None,),
            "initial": ()}


def refuse_options(name: str, options: dict) -> None:
    """A TypeError for the first option with a value other than its default."""
    for key, value in options.items():
        if value is NOT_GIVEN or any(value is d or (type(d) is type(value) and value == d)
                                     for d in DEFAULTS.get(key, ())):
            continue
        advice = ADVICE.get(key, f"call {name} with the tensor arguments (and axis and keepdims "
                                 "where it has them) only")
        raise TypeError(f"{name}: the option {key}= is not supported on tensors; "
                        + advice.format(call=name))


def tensor_of(x, name: str) -> Tensor:
    """``x`` as a Tensor (an array or number becomes a constant leaf)."""
    return x if isinstance(x, Tensor) else Tensor(data_array(x, None, name))


# ---------------------------------------------------------------------- the table
def power(a, p) -> Tensor:
    """np.power(t, p) is t ** p (a constant exponent); np.power(c, t) is c ** t (c > 0)."""
    return a ** p if isinstance(a, Tensor) else p.__rpow__(a)


def dot(a, b, out=None) -> Tensor:
    """np.dot is the matrix product for 1-D and 2-D operands, the product for a 0-d one."""
    refuse_options("np.dot", {"out": out})
    if any((x.ndim if isinstance(x, Tensor) else np.ndim(x)) == 0 for x in (a, b)):
        return binary_op("mul", a, b)
    return matmul(a, b)


def sum_(a, axis=None, dtype=None, out=None, keepdims=False, initial=NOT_GIVEN,
         where=NOT_GIVEN) -> Tensor:
    refuse_options("np.sum", {"dtype": dtype, "out": out, "initial": initial, "where": where})
    return tensor_of(a, "np.sum").sum(axis, keepdims)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=NOT_GIVEN) -> Tensor:
    refuse_options("np.mean", {"dtype": dtype, "out": out, "where": where})
    return tensor_of(a, "np.mean").mean(axis, keepdims)


def max_(a, axis=None, out=None, keepdims=False, initial=NOT_GIVEN, where=NOT_GIVEN) -> Tensor:
    refuse_options("np.max", {"out": out, "initial": initial, "where": where})
    return tensor_of(a, "np.max").max(axis, keepdims)


def transpose(a, axes=None) -> Tensor:
    t = tensor_of(a, "np.transpose")
    return t.transpose() if axes is None else t.transpose(axes)


def reshape(a, shape: int | tuple[int, ...] | list[int] | NotGiven = NOT_GIVEN, order="C", *,
            copy=None) -> Tensor:
    refuse_options("np.reshape", {"order": order, "copy": copy})
    if shape is NOT_GIVEN:
        raise TypeError("np.reshape: missing the new shape (np.reshape(t, (2, 3)))")
    return tensor_of(a, "np.reshape").reshape(shape)


def ravel(a, order="C") -> Tensor:
    refuse_options("np.ravel", {"order": order})
    return tensor_of(a, "np.ravel").reshape(-1)


def squeeze(a, axis=None) -> Tensor:
    t = tensor_of(a, "np.squeeze")
    return t.reshape(np.squeeze(np.empty(t.shape, np.int8), axis).shape)


def expand_dims(a, axis) -> Tensor:
    t = tensor_of(a, "np.expand_dims")
    return t.reshape(np.expand_dims(np.empty(t.shape, np.int8), axis).shape)


def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind") -> Tensor:
    refuse_options("np.concatenate", {"out": out, "dtype": dtype, "casting": casting})
    return functional.concatenate(arrays, axis)


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind") -> Tensor:
    refuse_options("np.stack", {"out": out, "dtype": dtype, "casting": casting})
    return functional.stack(arrays, axis)


# NumPy function or ufunc -> its Tensor op. A ufunc's entry takes the ufunc's inputs (its
# options are refused before); a function's entry has the NumPy function's signature.
TABLE: dict[Callable, Callable] = {
    np.add: lambda a, b: binary_op("add", a, b),
    np.subtract: lambda a, b: binary_op("sub", a, b),
    np.multiply: lambda a, b: binary_op("mul", a, b),
    np.true_divide: lambda a, b: binary_op("div", a, b),  # np.divide
    np.negative: lambda a: -a,
    np.power: power,
    np.square: lambda a: a ** 2,
    np.exp: Tensor.exp,
    np.log: Tensor.log,
    np.sqrt: Tensor.sqrt,
    np.absolute: Tensor.abs,  # np.abs
    np.maximum: lambda a, b: binary_op("maximum", a, b),
    np.matmul: matmul,
    np.dot: dot,
    np.sum: sum_,
    np.mean: mean,
    np.max: max_,
    np.amax: max_,
    np.transpose: transpose,
    np.reshape: reshape,
    np.ravel: ravel,
    np.squeeze: squeeze,
    np.expand_dims: expand_dims,
    np.concatenate: concatenate,
    np.stack: stack,
}

# functions whose results carry no gradient (booleans, indices, shapes, text): they run on
# the values, tensors that require grad included, and return NumPy's result without a graph
NO_GRADIENT = frozenset([
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.signbit,
    np.logical_not, np.logical_and, np.logical_or, np.logical_xor,
    np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero,
    np.flatnonzero, np.count_nonzero, np.searchsorted, np.isclose, np.allclose,
    np.array_equal, np.array_equiv, np.any, np.all, np.result_type, np.iscomplexobj,
    np.isrealobj, np.array_repr, np.array_str, np.array2string, np.may_share_memory,
    np.shares_memory,
])
SHAPE_ONLY = frozenset([np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj,
                        np.isrealobj])  # read no values

# the tinygrad_lc way to write some functions that have no Tensor op (by NumPy name)
HINTS = {
    "sort": "To keep the graph, pick the entries in sorted order: t[np.argsort(t.data)].",
    "min": "Write it with max: -(-t).max(axis).",
    "amin": "Write it with max: -(-t).max(axis).",
    "minimum": "Write it with maximum: -tg.maximum(-a, -b).",
    "clip": "Write it with maximum: -tg.maximum(-hi, -tg.maximum(lo, t)).",
    "where": "Blend with a mask instead: t * mask + u * (1 - mask), mask = np.where(cond, 1.0, "
             "0.0); or index t[cond].",
    "log1p": "Write tg.log(1 + t).",
    "expm1": "Write t.exp() - 1.",
    "logaddexp": "Write tg.stack([a, b]).logsumexp(axis=0).",
    "tanh": "Write it with exp: 1 - 2 / ((2 * t).exp() + 1).",
    "var": "Write ((t - t.mean(axis, keepdims=True)) ** 2).mean(axis).",
    "std": "Write (((t - t.mean(axis, keepdims=True)) ** 2).mean(axis)).sqrt().",
    "norm": "Write (t * t).sum().sqrt() (the L2 norm).",
    "outer": "Write a.reshape(-1, 1) * b.reshape(1, -1).",
    "average": "Write (t * w).sum() / w.sum().",
    "vstack": "Use tg.concatenate or tg.stack (np.concatenate and np.stack work too).",
    "hstack": "Use tg.concatenate(..., axis=1) (np.concatenate works too).",
    "add.reduce": "Write t.sum(axis).",
    "maximum.reduce": "Write t.max(axis).",
    "copy": "Ops never write into their inputs: use the tensor itself, or t.detach() for a "
            "leaf without graph.",
}
GENERIC_HINT = ("Write it with the Tensor ops (+ - * / **, exp, log, sqrt, abs, relu, "
                "tg.maximum, sum, mean, max, logsumexp, softmax, reshape, transpose, indexing, "
                "tg.concatenate, tg.stack).")
# functions that write into their first argument
IN_PLACE = frozenset(["copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"])


# ---------------------------------------------------------------------- dispatch
def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict):
    """``Tensor.__array_ufunc__``: see the module's docstring."""
    for x in inputs:
        if x.__class__ not in PLAIN and not known(x):
            return NotImplemented
    op = TABLE.get(ufunc) if method == "__call__" else None
    if op is not None and not kwargs:  # arr * t, np.exp(t): the common case, kept short
        return op(*inputs)
    if not all(known(x) for x in kwargs.get("out", ())):
        return NotImplemented
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if any(isinstance(x, Tensor) for x in kwargs.get("out", ())) or (
            method == "at" and isinstance(inputs[0], Tensor)):
        refuse_in_place(name)
    if op is not None:
        refuse_options(name, kwargs)
        return op(*inputs)
    if method != "__call__" or ufunc not in NO_GRADIENT:
        refuse_grad(name, inputs)
    return getattr(ufunc, method)(*values(name, inputs), **kwargs)


def array_function(func: Callable, types: tuple, args: tuple, kwargs: dict):
    """``Tensor.__array_function__``: see the module's docstring."""
    if not all(issubclass(t, Tensor | np.ndarray) for t in types):
        return NotImplemented
    name = numpy_name(func)
    if func.__name__ in IN_PLACE and isinstance(args[0] if args else None, Tensor):
        refuse_in_place(name)  # these write into their first argument
    op = TABLE.get(func)
    if op is not None:  # NumPy has checked the arguments against the function's signature
        return op(*args, **kwargs)
    if func not in NO_GRADIENT:
        refuse_grad(name, (args, kwargs))
    if func in SHAPE_ONLY:
        return func(*unwrap(args), **unwrap(kwargs))
    return func(*values(name, args), **values(name, kwargs))


PLAIN = frozenset([Tensor, np.ndarray, float, int, bool, np.float64, np.float32, np.int64])


def known(x) -> bool:
    """Whether NumPy's ufunc machinery may treat ``x`` as a plain operand (anything without
    its own ``__array_ufunc__``, or an ndarray)."""
    own = getattr(type(x), "__array_ufunc__", None)
    return own is None or isinstance(x, Tensor) or own is np.ndarray.__array_ufunc__


def numpy_name(func: Callable) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    prefix = "np" + module.removeprefix("numpy") if module.startswith("numpy") else module
    return f"{prefix}.{func.__name__}"


def tensors_in(x) -> list:
    """The tensors in ``x``: itself, or inside lists, tuples and dicts, at any depth."""
    found, stack = [], [x]
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return found


@overload
def unwrap(x: Tensor) -> np.ndarray: ...
@overload
def unwrap(x: tuple) -> tuple: ...
@overload
def unwrap(x: list) -> list: ...
@overload
def unwrap(x: dict[str, Any]) -> dict[str, Any]: ...
def unwrap(x: object) -> object:
    """``x`` with every tensor (inside lists, tuples and dicts too) replaced by its array."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, list | tuple):
        items = [unwrap(v) for v in x]  # recursion over the nesting of the arguments only
        return items if isinstance(x, list) else tuple(items)
    if isinstance(x, dict):
        return {k: unwrap(v) for k, v in x.items()}
    return x


@overload
def values(name: str, x: tuple) -> tuple: ...
@overload
def values(name: str, x: dict[str, Any]) -> dict[str, Any]: ...
def values(name: str, x: tuple | dict[str, Any]) -> tuple | dict[str, Any]:
    """:func:`unwrap`, after telling ``tg.compile``'s tracer that the values are read."""
    tracer = engine.active_tracer()
    if tracer is not None:
        for t in tensors_in(x):
            tracer.read(t, f"{name}()")
    return unwrap(x)


def refuse_grad(name: str, args) -> None:
    """The TypeError for a function without a Tensor op given a tensor that requires grad."""
    if not current_modes().grad_enabled:
        return
    if not any(t.requires_grad for t in tensors_in(args)):
        return
    short = name.removeprefix("np.").removeprefix("linalg.")
    hint = HINTS.get(short, GENERIC_HINT)
    raise TypeError(
        f"{name} is not differentiable in tinygrad_lc: given a tensor that requires grad, its "
        f"result would have no graph and the gradient would stop there. {hint} For the values "
        "alone, without a gradient, call it on t.data (or t.detach()), or inside tg.no_grad()."
    )


def refuse_in_place(name: str) -> None:
    raise TypeError(f"{name}: tensors are not written in place by NumPy (the engine would not "
                    "see the change); use the returned value, or t.assign_(value, index) to "
                    "change a tensor's data")


# the engine's Tensor calls these two (see the module's docstring)
engine.numpy_ufunc = array_ufunc
engine.numpy_function = array_function
