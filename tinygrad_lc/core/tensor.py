"""The ``Tensor`` and the reverse-mode graph walk.

A ``Tensor`` wraps an ``np.ndarray``. Every op on tensors that require grad records its inputs
(``parents``) and one vector-Jacobian product per input (from the table in ``ops.py``);
``backward()`` walks that graph once in reverse creation order, without recursion.

The engine does, once and for all ops: broadcasting checks, summing gradients back to each
input's shape, casting gradients to each input's dtype, skipping inputs that need no gradient,
accumulating gradients that arrive along several paths, and keeping gradient arrays from
aliasing each other or any tensor's data. Checks of user input live in ``checks.py``.

The recording modes (grad on or off, the scope path, anomaly checks) belong to each thread and
each ``contextvars`` context: one ``ContextVar`` (``modes.MODES``) holds an immutable
``modes.Modes``, which the hot path reads once per op. ``modes.py`` switches them.

(Longer than the project's ~400 lines on purpose: the Tensor and its graph walk stay in one
module.)
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import itertools
import math
import threading
from numbers import Real
from typing import TYPE_CHECKING, Any, ClassVar, overload

import numpy as np

from tinygrad_lc.core.anomaly import (
    AnomalyError,  # noqa: F401  (tinygrad_lc.core.tensor.AnomalyError, tg.AnomalyError)
    check_backward,
    check_forward,
    check_saved,
    fingerprints,
)
from tinygrad_lc.core.checks import (
    CASTABLE_KINDS,
    FLOAT_KINDS,
    check_axis,
    check_domain,
    float_dtype,
    normalize_axes,
    reduction_axis,
    to_array,
)
from tinygrad_lc.core.display import array_text, tensor_html
from tinygrad_lc.core.identity import WeakIdentitySet
from tinygrad_lc.core.indexing import prepare_index
from tinygrad_lc.core.modes import MODES, Modes
from tinygrad_lc.core.ops import NUMPY, OPS

if TYPE_CHECKING:  # names for annotations only (numpy.typing is not imported at run time)
    from collections.abc import Callable
    from typing import TypeAlias

    from numpy.typing import ArrayLike, DTypeLike

    Operand: TypeAlias = "Tensor | ArrayLike"  # either side of an op: a Tensor or a constant
    Axis: TypeAlias = "int | tuple[int, ...] | None"

current_modes = MODES.get  # the hot path calls this once per op
# gradcheck collects (op name, scope, kink state) of the ops it evaluates, per thread and per
# context (a ContextVar: another thread's ops never land in its log); ``open_kink_logs`` counts
# the logs open anywhere, so an op reads the ContextVar only while one is
KINK_LOG: contextvars.ContextVar = contextvars.ContextVar("tinygrad_lc.kink_log", default=None)
open_kink_logs = 0
_KINK_COUNT_LOCK = threading.Lock()
creation_clock = itertools.count(1)  # creation order doubles as a topological order
_last_mutation = 0  # clock value of the most recent in-place change of any tensor
# weak sets by identity (a WeakSet would compare two tensors with ==, entry by entry)
_mutated = WeakIdentitySet()  # tensors changed in place (views may share them)
plain_grads = WeakIdentitySet()  # results of grad(create_graph=False)
# the tg.compile tracer (compile.trace.Tracer) while it records a function: per thread and per
# context, as the modes are (another thread's eager ops never see it, and each reads it once
# into a local, so a trace starting or ending meanwhile cannot change it halfway through);
# ``open_traces`` counts the traces running anywhere, so an op reads the ContextVar only while
# one is
TRACER: contextvars.ContextVar = contextvars.ContextVar("tinygrad_lc.tracer", default=None)
open_traces = 0
_TRACE_COUNT_LOCK = threading.Lock()


def active_tracer():
    """The tracer recording in this thread and context, or None (the common case, cheap)."""
    return TRACER.get() if open_traces else None


@contextlib.contextmanager
def tracing(tracer):
    """Install ``tracer`` for this thread and context while the block runs."""
    global open_traces
    token = TRACER.set(tracer)
    with _TRACE_COUNT_LOCK:  # += is no atomic step: two threads could lose a count
        open_traces += 1
    try:
        yield tracer
    finally:
        with _TRACE_COUNT_LOCK:
            open_traces -= 1
        TRACER.reset(token)
# NumPy's ufuncs and functions called with tensors (np.exp(t), arr * t, np.sum(t)) go through
# the table of core/numpy_protocol.py, which builds on this module and functional.py and so
# sits above them: importing it (tinygrad_lc/__init__.py does) puts its two entry points here
def numpy_protocol_missing(*args: object) -> Any:
    """The two entry points until ``core/numpy_protocol.py`` is imported."""
    raise RuntimeError("NumPy's functions on tensors need tinygrad_lc.core.numpy_protocol, "
                       "which `import tinygrad_lc` imports")


numpy_ufunc: Callable[[np.ufunc, str, tuple, dict], Any] = numpy_protocol_missing
numpy_function: Callable[[Callable, tuple, tuple, dict], Any] = numpy_protocol_missing


def data_array(data, dtype, where: str) -> np.ndarray:
    """``checks.to_array`` that also unwraps a Tensor."""
    if isinstance(data, Tensor):
        return to_array(data._data, dtype, where)
    if isinstance(data, list | tuple):
        _refuse_nodes_in(data, where)
    return to_array(data, dtype, where)


def _refuse_nodes_in(items: list | tuple | np.ndarray, where: str) -> None:
    """A list of tensors would become plain values (through ``__array__``), silently cutting
    the graph: refuse it when one of them needs a gradient."""
    for x in items:
        if isinstance(x, Tensor) and x.requires_grad:
            raise TypeError(
                f"{where}: got a list holding a tensor that requires grad; a list becomes "
                "plain values without a graph. Join tensors with tg.stack or tg.concatenate"
            )


def compare(ufunc: np.ufunc, symbol: str, t: Tensor, other: object) -> np.ndarray:
    """``t <symbol> other`` on the values: NumPy's boolean result, no graph.

    ``other`` may be a Tensor, an ndarray, a number or a (nested) list; anything else gives
    NotImplemented, so ``t == None`` is False and ``t < "a"`` a TypeError, as Python does.

    >>> Tensor([1.0, 3.0]) < 2
    array([ True, False])
    """
    if isinstance(other, Tensor):
        values = other._data
    elif isinstance(other, np.ndarray | np.generic | Real | list | tuple):
        values = other
    else:
        return NotImplemented
    tracer = active_tracer()
    if tracer is not None:
        for x in (t, other) if isinstance(other, Tensor) else (t,):
            tracer.read(x, f"the comparison {symbol}")
    return ufunc(t._data, values)


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autodiff.

    Parameters
    ----------
    data : scalar, nested list or np.ndarray
        Floating data keeps its dtype (float64 or float32); integer and bool data becomes
        float64 unless ``dtype`` says otherwise. Data is shared with an ndarray of the same
        dtype, like ``np.asarray``, except when ``requires_grad=True``: parameters get their
        own copy, so in-place updates (optimizer steps) never write into the caller's array.
    requires_grad : bool
        Whether ``backward()`` should compute a gradient for this tensor.
    dtype : numpy dtype, optional
    name : str, optional
        Shown in diagrams and error messages.

    Examples
    --------
    >>> w = Tensor([1.0, -2.0, 3.0], requires_grad=True, name="w")
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> w.grad
    array([ 2., -4.,  6.])
    """

    __slots__ = (
        "_data", "grad", "requires_grad", "name", "parents", "scope",
        "_opdef", "_vjps", "_kw", "_seq", "_mut", "_version", "_pg", "_where", "_note",
        "__weakref__",
    )

    grad: np.ndarray | None
    requires_grad: bool
    name: str | None
    parents: tuple[Tensor, ...]
    scope: str | None

    def __init__(self, data: ArrayLike | Tensor, requires_grad: bool = False,
                 dtype: DTypeLike | None = None, name: str | None = None) -> None:
        source = data
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            data = tracer.unwrap(data)
        arr = data_array(data, dtype, "Tensor")
        if requires_grad:
            if arr.dtype.kind not in FLOAT_KINDS:
                raise TypeError(
                    f"Tensor: requires_grad=True needs floating data, got dtype {arr.dtype}; "
                    "gradients exist only for float32/float64 tensors"
                )
            arr = np.array(arr, copy=True)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a str, got {type(name).__name__}")
        _init(self, arr, bool(requires_grad), None, (), None, None, current_modes().scope)
        self.name = name
        if tracer is not None:
            tracer.leaf(self, source)

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> np.ndarray:
        """The values, an ``np.ndarray``. Assigning a new array counts as an in-place change
        (and, for a tensor that requires grad, stores a copy, as the constructor does)."""
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.read(self, ".data")
        return self._data

    @data.setter
    def data(self, value: ArrayLike | Tensor) -> None:
        arr = data_array(value, self._data.dtype, "Tensor.data")
        if arr.shape != self._data.shape:
            raise ValueError(
                f"Tensor.data: new value has shape {arr.shape}, expected {self._data.shape}"
            )
        if self.requires_grad and arr is not self._data:
            # as in the constructor: steps never write into the caller's array; `t.data -= x`
            # (the same array back) keeps it, so views of it still see the change
            arr = np.array(arr, copy=True)
        self._data = arr
        self._bump_version()

    def _bump_version(self) -> None:
        """Record an in-place change so a backward needing the old value can refuse to run."""
        global _last_mutation
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.write(self)
        _last_mutation = self._mut = next(creation_clock)
        self._version += 1
        _mutated.add(self)

    def assign_(self, value: ArrayLike | Tensor, index: Any = None) -> Tensor:
        """Write ``value`` into the data in place (all of it, or ``data[index]``); bump the version.

        The way to change part of a tensor that the mutation guard sees (``t.data[i] = v``
        writes behind its back). ``value`` broadcasts to the target and takes this tensor's
        dtype. No graph is recorded.

        >>> w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> w.assign_(0.0, index=slice(1, None)).data
        array([1., 0., 0.])
        >>> w.version
        1
        """
        arr = data_array(value, self._data.dtype, "assign_")
        key = Ellipsis if index is None else (index._data if isinstance(index, Tensor) else index)
        try:
            target = np.shape(self._data[key])
        except (IndexError, TypeError) as exc:
            raise IndexError(f"assign_: bad index {index!r} for shape {self.shape}: {exc}") \
                from None
        try:
            fits = np.broadcast_shapes(arr.shape, target) == target
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"assign_: value of shape {arr.shape} does not fit target {target}")
        if not self._data.flags.writeable:
            raise ValueError("assign_: the data is read-only (it shares a read-only array)")
        self._data[key] = arr
        self._bump_version()
        return self

    @property
    def version(self) -> int:
        """How many times the data was changed in place through the API."""
        return self._version

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor; None for a leaf."""
        return None if self._opdef is None else self._opdef.name

    @property
    def is_leaf(self) -> bool:
        return self._opdef is None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the data."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    @property
    def size(self) -> int:
        """Number of entries."""
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of the data."""
        return self._data.dtype

    def __bool__(self) -> bool:
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.read(self, "bool()")
        if self._data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use (t.data > 0).any() or .all()"
            )
        return bool(self._data)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len: a 0-d tensor has no length")
        return len(self._data)

    def __repr__(self) -> str:
        body = array_text(self._data, threshold=20)  # bounded for any number of axes
        extra = "".join(
            [
                f", dtype={self._data.dtype}" if self._data.dtype != np.float64 else "",
                ", requires_grad=True" if self.requires_grad else "",
                f", op={self.op!r}" if self._opdef is not None else "",
                f", name={self.name!r}" if self.name else "",
            ]
        )
        return f"Tensor({body}{extra})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.read(self, ".item()")
        if self._data.size != 1:
            raise ValueError(f"item: needs a tensor with one element, got shape {self.shape}")
        return self._data.item()

    def __float__(self) -> float:
        return float(self.item())

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied)."""
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.read(self, ".numpy()")
        return self._data

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(t)`` is the data (shared, as ``numpy()``); ``np.array(t)`` copies it.

        NumPy 2's protocol: ``copy=False`` refuses a conversion that would need a copy.

        >>> np.asarray(Tensor([1.0, 2.0]))
        array([1., 2.])
        """
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.read(self, "np.asarray()")
        arr = self._data
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            if copy is False:
                raise ValueError(
                    f"Tensor.__array__: dtype {np.dtype(dtype)} needs a copy of the "
                    f"{arr.dtype} data, but copy=False was asked"
                )
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's ufuncs on tensors: ``np.exp(t)``, ``np.maximum(0, t)``, ``arr * t`` record
        on the graph; the table and the rules are in ``core/numpy_protocol.py``."""
        return numpy_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable[..., Any], types: tuple[type, ...],
                           args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """NumPy's functions on tensors: ``np.sum(t, axis=0)``, ``np.concatenate([a, b])``
        record on the graph; the table and the rules are in ``core/numpy_protocol.py``."""
        return numpy_function(func, types, args, kwargs)

    # comparisons: a boolean ndarray of the values, entry by entry, and no graph (a step has
    # no derivative worth passing on). == and != too, as in NumPy and PyTorch; so tensors are
    # hashed (dict keys, set members) by identity, and the engine never compares them with ==
    # (== and != return an array, not object's bool: the same override NumPy's stubs make)
    def __lt__(self, other: Operand) -> np.ndarray: return compare(np.less, "<", self, other)
    def __le__(self, other: Operand) -> np.ndarray: return compare(np.less_equal, "<=", self, other)
    def __gt__(self, other: Operand) -> np.ndarray: return compare(np.greater, ">", self, other)
    def __ge__(self, other: Operand) -> np.ndarray:
        return compare(np.greater_equal, ">=", self, other)
    def __eq__(self, other: object) -> np.ndarray:  # pyright: ignore[reportIncompatibleMethodOverride]
        return compare(np.equal, "==", self, other)
    def __ne__(self, other: object) -> np.ndarray:  # pyright: ignore[reportIncompatibleMethodOverride]
        return compare(np.not_equal, "!=", self, other)
    __hash__: ClassVar[Callable[[object], int]] = object.__hash__

    def _repr_html_(self) -> str:
        """Jupyter's view: shape, dtype, requires_grad, op, name, and previews of the values
        and the gradient (a few thousand characters at most, however large the tensor)."""
        return tensor_html(self._data, self.grad, [
            ("shape", str(self.shape)), ("dtype", str(self.dtype)),
            ("requires_grad", str(self.requires_grad)), ("op", self.op or "(leaf)"),
            ("name", self.name or ""), ("scope", self.scope or "")])

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """A leaf copies its data, grad, name and flags; a graph node is refused.

        A node's VJPs read its forward's arrays (its parents' data), so a copied node would
        still differentiate through the originals: copy the leaves (parameters) and run the
        forward again, or deep-copy ``t.detach()`` for the values alone.
        """
        if self._opdef is not None:
            raise RuntimeError(
                f"deepcopy: cannot copy a tensor made by op '{self.op}' (a graph node); its "
                "backward would still read the original arrays. Deep-copy the leaves "
                "(parameters) and recompute, or copy t.detach() for the values only"
            )
        t = _new(Tensor)
        memo[id(self)] = t
        _init(t, copy.deepcopy(self._data, memo), self.requires_grad, None, (), None, None,
              self.scope)
        t.grad = copy.deepcopy(self.grad, memo)
        t.name = self.name
        return t

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut from the graph."""
        return make_node(self._data, False, None, (), None, None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``grad`` to None)."""
        self.grad = None

    # ------------------------------------------------------------------ backward
    def backward(self, grad: ArrayLike | Tensor | None = None, retain_grads: bool = True) -> None:
        """Compute gradients of this tensor w.r.t. every tensor in its graph that requires grad.

        Parameters
        ----------
        grad : array_like, optional
            The upstream gradient, shaped like this tensor. Defaults to 1 for a one-element tensor.
        retain_grads : bool
            Keep ``.grad`` on every intermediate tensor too (the default, so diagrams can show
            gradients). ``False`` keeps gradients on leaves only, as PyTorch does by default:
            intermediate gradients are freed as soon as they are used, which lowers peak memory.
        """
        tracer = TRACER.get() if open_traces else None
        if tracer is not None:
            tracer.refuse("backward()")
        if not self.requires_grad:
            if self in plain_grads:
                raise RuntimeError(
                    "backward: this tensor is a gradient taken without create_graph=True, so "
                    "no graph of it was recorded; pass create_graph=True to the grad() call "
                    "that made it to differentiate it again"
                )
            raise RuntimeError(
                "backward: this tensor does not require grad, so no graph was recorded; "
                "create the inputs with requires_grad=True (and not inside no_grad())"
            )
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: called without `grad` on a tensor of shape {self.shape}; "
                    "reduce it to a scalar first (e.g. .sum()) or pass grad= of that shape"
                )
            g = np.ones(self.shape, dtype=self.dtype)
        else:
            g = np.array(data_array(grad, self.dtype, "backward"), copy=True)
            if g.shape != self.shape:
                raise ValueError(f"backward: grad has shape {g.shape}, expected {self.shape}")
        _run_backward(self, g, bool(retain_grads))

    # ------------------------------------------------------------------ ops (see ops.py)
    def __add__(self, other: Operand) -> Tensor: return binary_op("add", self, other)
    def __radd__(self, other: Operand) -> Tensor: return binary_op("add", other, self)
    def __sub__(self, other: Operand) -> Tensor: return binary_op("sub", self, other)
    def __rsub__(self, other: Operand) -> Tensor: return binary_op("sub", other, self)
    def __mul__(self, other: Operand) -> Tensor: return binary_op("mul", self, other)
    def __rmul__(self, other: Operand) -> Tensor: return binary_op("mul", other, self)
    def __truediv__(self, other: Operand) -> Tensor: return binary_op("div", self, other)
    def __rtruediv__(self, other: Operand) -> Tensor: return binary_op("div", other, self)
    def __matmul__(self, other: Operand) -> Tensor: return matmul(self, other)
    def __rmatmul__(self, other: Operand) -> Tensor: return matmul(other, self)
    def __neg__(self) -> Tensor: return apply_op("neg", (self,))

    def __pow__(self, p: float | np.ndarray) -> Tensor:
        if isinstance(p, np.ndarray) and p.ndim == 0:
            p = p[()]  # a 0-d array is a constant number too
        if isinstance(p, Tensor) or not isinstance(p, Real):
            raise TypeError(
                f"pow: the exponent must be a constant real number, got {type(p).__name__}"
            )
        p = p.item() if isinstance(p, np.generic) else p  # a Python number keeps float32
        if not isinstance(p, int | float):
            p = float(p)  # Fraction and other Reals
        if math.isnan(p):
            raise ValueError("pow: the exponent is NaN; every power would be NaN")
        if math.isfinite(p) and not float(p).is_integer() and not current_modes().anomaly:
            # like log and sqrt: a negative base has no real non-integer power (NumPy: NaN)
            check_domain("pow", self._data,
                         f"a power with the non-integer exponent {p!r} is defined for x >= 0 "
                         "only (use an integer exponent, or abs() first)")
        return apply_op("pow", (self,), {"p": p})

    def __rpow__(self, base: float) -> Tensor:
        if not isinstance(base, Real) or base <= 0:
            raise TypeError(f"pow: a constant base must be a positive number, got {base!r}")
        base = base.item() if isinstance(base, np.generic) else base
        return apply_op("rpow", (self,), {"base": base})

    def exp(self) -> Tensor: return apply_op("exp", (self,))
    def abs(self) -> Tensor: return apply_op("abs", (self,))
    def relu(self) -> Tensor: return apply_op("relu", (self,))

    def log(self) -> Tensor:
        if not current_modes().anomaly:  # inside detect_anomaly() the NaN itself is an AnomalyError
            check_domain("log", self._data)
        return apply_op("log", (self,))

    def sqrt(self) -> Tensor:
        if not current_modes().anomaly:
            check_domain("sqrt", self._data)
        return apply_op("sqrt", (self,))

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce("sum", self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce("mean", self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        if self._data.size == 0:
            raise ValueError(f"max: cannot take the max of an empty tensor of shape {self.shape}")
        return _reduce("max", self, axis, keepdims)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce("logsumexp", self, axis, keepdims)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply_op("log_softmax", (self,), {"axis": _softmax_axis("log_softmax", self, axis)})

    def softmax(self, axis: int = -1) -> Tensor:
        return apply_op("softmax", (self,), {"axis": _softmax_axis("softmax", self, axis)})

    def reshape(self, *shape: int | tuple[int, ...] | list[int]) -> Tensor:
        dims: tuple[Any, ...] = tuple(shape[0]) if len(shape) == 1 and \
            isinstance(shape[0], tuple | list) else shape
        if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in dims):
            raise TypeError(f"reshape: the new shape must be ints, got {dims!r}")
        try:
            new = self._data.reshape(dims).shape
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} into {dims}") from None
        return apply_op("reshape", (self,), {"shape": new})

    def transpose(self, *axes: int | tuple[int, ...] | list[int]) -> Tensor:
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        if axes:
            norm = normalize_axes("transpose", axes, max(self.ndim, 1), self.shape, axes)
            if len(norm) != self.ndim:
                raise ValueError(
                    f"transpose: axes {axes} are not a permutation of the {self.ndim} axes of "
                    f"shape {self.shape}"
                )
            axes = norm
        return apply_op("transpose", (self,), {"axes": axes or None})

    @property
    def T(self) -> Tensor:  # noqa: N802  (NumPy's name)
        """The transpose (axes reversed)."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        tracer = TRACER.get() if open_traces else None
        index, unique = prepare_index(index, self.shape) if tracer is None else \
            tracer.index(index, self.shape)
        try:
            return apply_op("getitem", (self,), {"index": index, "unique": unique})
        except IndexError as exc:
            raise IndexError(f"getitem: {exc} (tensor shape {self.shape})") from None


# ---------------------------------------------------------------------- building the graph
def _init(t, data, requires_grad, opdef, parents, vjps, kw, scope):
    t._data = data
    t.grad = None
    t.requires_grad = requires_grad
    t.name = None
    t.parents = parents
    t.scope = scope
    t._opdef = opdef
    t._vjps = vjps
    t._kw = kw
    t._seq = next(creation_clock)
    t._mut = 0
    t._version = 0
    t._pg = None
    t._where = None
    t._note = None


_new = object.__new__


def make_node(data, requires_grad, opdef, parents, vjps, kw) -> Tensor:
    t = _new(Tensor)
    _init(t, data, requires_grad, opdef, parents, vjps, kw, current_modes().scope)
    return t


def apply_op(name: str, parents: tuple, kw: dict | None = None) -> Tensor:
    """Run op ``name`` forward on ``parents`` and record it when any parent requires grad."""
    opdef = OPS[name]
    datas = [p._data for p in parents]
    out = opdef.fwd(*datas, **kw) if kw else opdef.fwd(*datas)
    vjps = opdef.vjps if opdef.arity >= 0 else opdef.vjps_for(len(parents))
    wants = False
    for p in parents:
        if p.requires_grad:
            wants = True
            break
    return _finish(opdef, out, vjps, parents, kw, wants, datas)


def apply_op2(name: str, a: Tensor, b: Tensor) -> Tensor:
    """``apply_op`` for the two-input ops, the hot path of elementwise arithmetic."""
    opdef = OPS[name]
    out = opdef.fwd(a._data, b._data)
    return _finish(opdef, out, opdef.vjps, (a, b), None, a.requires_grad or b.requires_grad,
                   None)


@contextlib.contextmanager
def kink_log():
    """Collect ``(op name, scope, kink state)`` of every op with a kink that this thread (this
    context) runs inside the block, into the list it yields; other threads are not logged.

    >>> with kink_log() as log:
    ...     _ = Tensor([-1.0, 2.0]).relu()
    >>> [(name, state.tolist()) for name, _, state in log]
    [('relu', [-1, 1])]
    """
    global open_kink_logs
    log: list = []
    token = KINK_LOG.set(log)
    with _KINK_COUNT_LOCK:  # += is no atomic step: two threads could lose a count
        open_kink_logs += 1
    try:
        yield log
    finally:
        with _KINK_COUNT_LOCK:
            open_kink_logs -= 1
        KINK_LOG.reset(token)


def _finish(opdef, out, vjps, parents, kw, wants, datas) -> Tensor:
    """The result tensor of an op: a graph node when an input ``wants`` grad and grad is on."""
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    modes = current_modes()  # the one read of the recording modes per op
    t = _new(Tensor)
    if wants and modes.grad_enabled:
        _init(t, out, True, opdef, parents, vjps, kw, modes.scope)
    else:
        _init(t, out, False, None, (), None, None, modes.scope)
    if open_traces:  # the one global read of the hot path; the tracer is read only then
        tracer = TRACER.get()
        if tracer is not None:
            tracer.op(opdef, t, parents, kw)
    if open_kink_logs and opdef.kink is not None:
        log = KINK_LOG.get()
        if log is not None:
            datas = datas or [p._data for p in parents]
            log.append((opdef.name, modes.scope, opdef.kink(*datas, **(kw or {}))))
    if modes.anomaly:
        check_forward(t, opdef, parents)
    return t


def _const(x, like: np.ndarray, where: str) -> Tensor:
    """Wrap a number or array operand as a constant leaf, in the other operand's float dtype.

    Numbers, bools and integer arrays take ``float_dtype`` of the other operand (float32 stays
    float32; next to an integer tensor they are float64, as NumPy promotes with a Python
    float); float arrays keep their own dtype.
    """
    source, tracer = x, (TRACER.get() if open_traces else None)  # read once: see TRACER
    if tracer is not None:
        x = tracer.unwrap(x)
    if isinstance(x, bool | int | float | np.number) and not isinstance(x, complex):
        arr = np.asarray(x, dtype=float_dtype(like.dtype))
    elif isinstance(x, np.ndarray | list | tuple):
        if x.__class__ is not np.ndarray:
            _refuse_nodes_in(x, where)
        arr = np.asarray(x)
        if arr.dtype.kind in CASTABLE_KINDS:
            arr = arr.astype(float_dtype(like.dtype))
        elif arr.dtype.kind not in FLOAT_KINDS:
            raise TypeError(f"{where}: unsupported operand of dtype {arr.dtype}")
    else:
        raise TypeError(
            f"{where}: unsupported operand type {type(x).__name__}; "
            "expected a Tensor, an ndarray or a real number"
        )
    t = make_node(arr, False, None, (), None, None)
    if tracer is not None:
        tracer.leaf(t, source)
    return t


@overload
def binary_op(name: str, a: Tensor, b: Operand) -> Tensor: ...
@overload
def binary_op(name: str, a: Operand, b: Tensor) -> Tensor: ...
def binary_op(name, a, b):  # one side at least is a Tensor (the overloads)
    """An elementwise op of two operands, either of which may be a constant."""
    if type(a) is not Tensor:
        a = _const(a, b._data, name)
    elif type(b) is not Tensor:
        b = _const(b, a._data, name)
    try:
        opdef = OPS[name]
        out = opdef.fwd(a._data, b._data)
    except ValueError:
        if a._data.shape != b._data.shape:
            try:
                np.broadcast_shapes(a._data.shape, b._data.shape)
            except ValueError:
                raise ValueError(
                    f"{name}: shapes {a._data.shape} and {b._data.shape} cannot be broadcast "
                    "together (trailing dimensions must match or be 1)"
                ) from None
        raise
    return _finish(opdef, out, opdef.vjps, (a, b), None, a.requires_grad or b.requires_grad,
                   None)


@overload
def matmul(a: Tensor, b: Operand) -> Tensor: ...
@overload
def matmul(a: Operand, b: Tensor) -> Tensor: ...
def matmul(a, b):  # one side at least is a Tensor (the overloads)
    """Matrix product of 1-D or 2-D tensors, ``a @ b``.

    >>> (Tensor([[1.0, 2.0]]) @ Tensor([[3.0], [4.0]])).item()
    11.0
    """
    if type(a) is not Tensor:
        a = _const(a, b._data, "matmul")
    if type(b) is not Tensor:
        b = _const(b, a._data, "matmul")
    sa, sb = a._data.shape, b._data.shape
    if not (1 <= len(sa) <= 2 and 1 <= len(sb) <= 2):
        raise ValueError(f"matmul: supports 1-D and 2-D operands, got shapes {sa} and {sb}")
    if sa[-1] != sb[0]:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align ({sa[-1]} != {sb[0]})")
    return apply_op2("matmul", a, b)


def _softmax_axis(name: str, t: Tensor, axis: int) -> int:
    """The checked axis of (log_)softmax: it must hold entries to normalize over."""
    checked = check_axis(name, t.shape, axis)
    if not isinstance(checked, int):  # None or a tuple
        raise TypeError(f"{name}: axis must be one int, got {axis!r}")
    axis = checked
    if t.ndim and t.shape[axis] == 0:
        raise ValueError(
            f"{name}: cannot normalize over an empty axis (shape {t.shape}, axis {axis}); "
            "each slice along it would be a distribution over no entries"
        )
    return axis


def _reduce(name: str, t: Tensor, axis, keepdims: bool) -> Tensor:
    axis = reduction_axis(name, t._data.shape, axis, keepdims)
    return apply_op(name, (t,), {"axis": axis, "keepdims": bool(keepdims)})


# ---------------------------------------------------------------------- walking the graph
def reachable(*roots: Tensor) -> list:
    """Every tensor requiring grad that the roots depend on, latest first (a topological order)."""
    seen = set(roots)
    stack = list(seen)
    nodes = list(seen)
    while stack:
        for p in stack.pop().parents:
            if p.requires_grad and p not in seen:
                seen.add(p)
                stack.append(p)
                nodes.append(p)
    nodes.sort(key=_seq_of, reverse=True)
    return nodes


def _seq_of(t: Tensor) -> int:
    return t._seq


def _run_backward(root: Tensor, g: np.ndarray, retain_grads: bool = True) -> None:
    nodes = reachable(root)
    root._pg = g
    backward_sweep(nodes, NUMPY, retain_grads)


def backward_sweep(nodes: list, B, retain_grads: bool = True, live: set | None = None,
           found: dict | None = None) -> None:
    """Push the gradients seeded in the roots' ``_pg`` back through ``nodes`` (latest first).

    Each node's VJPs run on backend ``B``: ``ops.NUMPY`` on arrays (the saved values are the
    forward's arrays), or a recording backend, whose ``B.saved(t)`` gives the node's output and
    inputs as its own values (``recording.TENSOR``: the node and its parents) and whose ops are
    recorded, grad on, in scope "backward/<the node's scope>". The broadcast reduction, cast
    and accumulation of each gradient go through ``B`` as well.

    ``backward()`` passes neither ``live`` nor ``found``: every node keeps its ``.grad``
    (intermediates only with ``retain_grads``). ``grad()`` passes the nodes leading to its
    inputs as ``live`` (no other node receives a gradient) and its inputs as the keys of
    ``found``, which receive their complete gradients; then no ``.grad`` changes.
    """
    tracer = TRACER.get() if open_traces else None
    if tracer is not None and B is NUMPY:
        tracer.refuse("a gradient without create_graph=True (tg.grad, backward)")
    record = B is not NUMPY
    anomaly = current_modes().anomaly
    # saved arrays are compared with their checksums whenever a forward inside
    # detect_anomaly() left some; otherwise this costs one test of a local per node
    fingerprinted = len(fingerprints) > 0
    token = MODES.set(current_modes()) if record else None  # the recording modes, restored after
    done = []  # (tensor, its gradient), written to .grad when every node is through
    try:
        for t in nodes:
            g = t._pg
            if g is None:
                continue
            t._pg = None
            if found is not None and t in found:
                found[t] = g
            opdef = t._opdef
            if opdef is not None:
                if opdef.needs_values and _last_mutation > t._seq:
                    _check_unchanged(t)
                if fingerprinted:
                    check_saved(t)
                parents = t.parents
                if record:  # the backend's values for the node, its ops in "backward/<scope>"
                    out, ins = B.saved(t)
                    MODES.set(Modes(True, f"backward/{t.scope}" if t.scope else "backward",
                                     anomaly))
                else:
                    out, ins = t._data, [p._data for p in parents]
                kw = t._kw
                for p, vjp in zip(parents, t._vjps):
                    if not p.requires_grad or (live is not None and p not in live):
                        continue
                    pg = vjp(B, g, out, *ins, **kw) if kw else vjp(B, g, out, *ins)
                    if pg is g:
                        pg = B.own(g)  # an identity VJP (add) must not share t's gradient
                    shape = p._data.shape
                    if pg.shape != shape:
                        pg = B.unbroadcast(pg, shape)
                    dtype = p._data.dtype
                    if pg.dtype is not dtype and pg.dtype != dtype:
                        pg = B.cast(pg, dtype)
                    if anomaly:
                        check_backward(t, p, pg._data if record else pg)
                    q = p._pg
                    p._pg = pg if q is None else B.accumulate(q, pg)
            if found is not None or (opdef is not None and not retain_grads):
                continue
            if g.__class__ is not np.ndarray or g.base is not None:
                g = np.array(g)  # a view (of another gradient) or a NumPy scalar: own it
            done.append((t, g))
    except BaseException:
        for t in nodes:  # an error part-way leaves no half-accumulated gradients behind
            t._pg = None
        raise
    else:
        # .grad changes only once the whole sweep has succeeded, so a retried backward
        # after an error (a KeyboardInterrupt in a VJP) does not add a gradient twice
        for t, g in done:
            if t.grad is None:
                t.grad = g
            else:
                t.grad += g
    finally:
        if token is not None:
            MODES.reset(token)


def _check_unchanged(t: Tensor) -> None:
    """Refuse to differentiate through a value that was changed in place after the forward."""
    for x in (t, *t.parents):
        if x._mut <= t._seq:  # not changed itself: was a tensor sharing its memory changed?
            x = next((m for m in _mutated if m._mut > t._seq
                      and np.may_share_memory(m._data, x._data)), x)
        if x._mut > t._seq:
            label = f"'{x.name}' " if x.name else ""
            raise RuntimeError(
                f"backward: tensor {label}of shape {x.shape} (version {x._version}) was changed "
                f"in place after op '{t.op}' used it; its gradient would be wrong. "
                "Recompute the forward pass after changing it."
            )


def host(fn):
    """Mark a NumPy helper of the library as one step of a ``tg.compile`` program.

    A compiled function is replayed on new data without its Python, so a helper computing an
    array from data that changes per call (labels: their checks, the column of them that
    picks the correct class) must run again on every replay: under ``tg.compile`` its call is
    recorded as a step when an argument is traced. Such a helper takes arrays (a Tensor
    argument arrives as its array), returns an array or None (a check) and has no other
    effect. Outside a trace the wrapper only calls ``fn``.
    """

    def call(*args, **kw):
        tracer = TRACER.get() if open_traces else None
        if tracer is None:
            return fn(*args, **kw)
        return tracer.host(fn, args, kw)

    functools.update_wrapper(call, fn)
    return call
