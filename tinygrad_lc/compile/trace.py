"""Tracing for ``tg.compile``: one eager run of a function, recorded as a flat :class:`Program`.

While a :class:`Tracer` is installed (``tensor.tracing``: per thread and context, a
``ContextVar``), the engine reports to it, from the tracing thread only:

- every op it runs (``op``): the op's name, its input tensors and keyword arguments;
- every leaf made from data (``leaf``): ``Tensor(...)`` and the constant operands of ops;
- indexing with an index that changes per call (``index``): labels, masks made from them;
- calls of ``host`` functions (``host``): the library's NumPy helpers that read such data
  (label checks, masks of the correct class), recorded as one step each;
- reads of a tensor's values and in-place writes (``read``, ``write``): refused for traced
  values, since Python that depends on them would be frozen into the program.

Array arguments reach the function as :class:`TracedArray`, which has a shape and a dtype but
refuses NumPy: what NumPy computes from it could not be replayed on the next call's data.

The backward is recorded by ``compile_backend.py``, the whole run by ``compile_record.py``.
Every step is computed for real while it is logged, with the same NumPy calls as the eager
engine makes, so the trace's values are the eager values.
"""

from __future__ import annotations

import operator
import threading

import numpy as np

from tinygrad_lc.compile.program import Program, Ref, refs_in
from tinygrad_lc.core import tensor as engine
from tinygrad_lc.core.indexing import increasing, prepare_index
from tinygrad_lc.core.tensor import Tensor

__all__ = ["CompileError", "Tracer", "TracedArray"]


class CompileError(RuntimeError):
    """``tg.compile`` cannot turn the function into a program, or a replay found a difference."""


_ADVICE = ("Compute it outside the compiled function and pass the result as an argument, or "
           "call the function uncompiled (compile=False)")


def _scope() -> str:
    return engine.current_modes().scope


class TracedArray:
    """An array argument while tracing: shape and dtype, but no NumPy on its values.

    Pass it to ``Tensor(...)``, to tensor ops as an operand, as an index, or to the library's
    functions (labels of a loss); each of those is a step of the program.
    """

    __slots__ = ("_tracer", "_vid", "_real", "_label")

    def __init__(self, tracer: Tracer, vid: int, real, label: str):
        self._tracer, self._vid, self._real, self._label = tracer, vid, real, label

    shape = property(lambda self: self._real.shape)
    dtype = property(lambda self: self._real.dtype)
    ndim = property(lambda self: self._real.ndim)
    size = property(lambda self: self._real.size)

    def __len__(self) -> int:
        return len(self._real)

    def __repr__(self) -> str:
        return f"TracedArray({self._label}, shape={self.shape}, dtype={self.dtype})"

    def _refuse(self, what: str):
        raise CompileError(
            f"tg.compile: the compiled function uses {what} on the array {self._label} "
            f"(shape {self.shape}, {self.dtype}); inside a compiled function an array that "
            "changes per call may only be wrapped in a Tensor, used as an operand or an index "
            "of tensor ops, or passed to tinygrad_lc's functions: anything NumPy computes from "
            f"it would be frozen into the program. {_ADVICE}")

    def __array__(self, *args, **kw):
        self._refuse("NumPy (np.asarray or a NumPy function)")

    def __array_ufunc__(self, ufunc, method, *args, **kw):
        self._refuse(f"NumPy (np.{ufunc.__name__})")

    def __array_function__(self, func, types, args, kw):
        self._refuse(f"NumPy (np.{func.__name__})")

    def __getattr__(self, name: str):
        self._refuse(f".{name}")

    def __getitem__(self, index):
        self._refuse("indexing")

    def __setitem__(self, index, value):
        self._refuse("item assignment")

    def __iter__(self):
        self._refuse("iteration")

    def __bool__(self):
        self._refuse("bool()")

    def __index__(self):
        self._refuse("int()")

    __hash__ = object.__hash__


def _refusing(name: str):
    return lambda self, *args: self._refuse(f"the operator {name}")


for _name in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv",
              "mod", "pow", "matmul", "rmatmul", "neg", "abs", "lt", "le", "gt", "ge", "eq",
              "ne", "and", "or", "xor", "invert", "int", "float"):
    setattr(TracedArray, f"__{_name}__", _refusing(f"__{_name}__"))


def _convert(x, dtype):
    """A new array of ``dtype`` holding ``x`` (the copy a Tensor or constant made of it)."""
    return np.array(x, dtype=dtype, copy=True)


def _prepare(shape: tuple, is_tuple: bool, *parts):
    """``prepare_index`` of the index made of ``parts`` (a tuple, or its one part)."""
    return prepare_index(parts if is_tuple else parts[0], shape)


def _index_of(*parts) -> tuple:
    """An index tuple made of traced and fixed parts."""
    return parts


def _unique_by_structure(template: tuple, norm: tuple) -> bool:
    """Whether ``prepare_index`` finds the positions unique for any values of the traced parts:
    the one array is a boolean mask, or a fixed part is ``np.arange``-like (or its column)."""
    arrays = [n for n in norm if isinstance(n, np.ndarray)]
    if len(arrays) == 1 and arrays[0].dtype == bool:
        return True
    shapes = {a.shape for a in arrays if a.dtype != bool}
    return len(shapes) == 1 and all(a.dtype != bool for a in arrays) and any(
        not isinstance(t, Ref) and isinstance(n, np.ndarray) and increasing(n)
        for t, n in zip(template, norm))


class Tracer:
    """Records one run of a function into :attr:`program` (see the module docstring)."""

    def __init__(self, name: str):
        self.program = Program(name=name)
        self.thread = threading.get_ident()
        self.start = next(engine.creation_clock)  # tensors older than this were made outside
        self.tensors: dict = {}  # id(tensor) -> value id
        self.arrays: dict = {}  # id(array) -> value id (every array the trace has seen)
        self.index_refs: dict = {}  # id(prepared index) -> (index, unique): Refs or fixed
        self.val: list = []  # value id -> the value while tracing
        self.keep: list = []  # objects whose ids are keys above, kept alive
        self.captured: list = []  # tensors from outside read by reference, in input order
        self.host_depth = 0

    # ------------------------------------------------------------------ values
    def _new(self, kind: str, x, name: str = "", const=None, dynamic: bool = True) -> int:
        shape, dtype = (x.shape, x.dtype) if isinstance(x, np.ndarray | np.generic) else \
            (None, None)
        vid = self.program.add_value(kind, shape, dtype, name, const, dynamic)
        self.val.append(x)
        if isinstance(x, np.ndarray):
            self.arrays[id(x)] = vid
        return vid

    def _step(self, name: str, fn, args: tuple, kw: dict, result, has_out: bool = True):
        dynamic = any(self.program.values[r].dynamic for r in refs_in((args, kw)))
        is_array = isinstance(result, np.ndarray | np.generic)
        out = self.program.add_step(name, fn, args, kw, _scope(),
                                    result.shape if is_array else None,
                                    result.dtype if is_array else None, has_out, dynamic)
        if out is not None:
            self.val.append(result)
            if isinstance(result, np.ndarray):
                self.arrays[id(result)] = out
        return out

    def input(self, x, name: str):
        """Register an argument: a Tensor is returned as is, an array as a TracedArray."""
        if isinstance(x, Tensor):
            vid = self.tensors.get(id(x))
            if vid is None:
                vid = self._new("input", x._data, name)
                self.tensors[id(x)] = vid
                self.keep.append(x)
            self.program.inputs.append(vid)
            return x
        vid = self._new("input", x, name)
        self.program.inputs.append(vid)
        return TracedArray(self, vid, x, name)

    def tensor_value(self, t: Tensor) -> int:
        """The value id of tensor ``t``: traced, an input, or a constant made inside."""
        vid = self.tensors.get(id(t))
        if vid is not None:
            return vid
        if t._seq < self.start:  # made outside the function: read by reference on each call
            vid = self._new("input", t._data, t.name or f"captured{len(self.captured)}")
            self.program.inputs.append(vid)
            self.captured.append(t)
        else:
            vid = self.arrays.get(id(t._data))
            if vid is None:
                self._refuse_derived(t._data)
                vid = self._new("const", t._data, const=t._data, dynamic=False)
        self.tensors[id(t)] = vid
        self.keep.append(t)
        return vid

    def is_dynamic(self, t: Tensor) -> bool:
        return self.program.values[self.tensor_value(t)].dynamic

    def _refuse_derived(self, arr: np.ndarray) -> None:
        base = arr.base
        while isinstance(base, np.ndarray):
            vid = self.arrays.get(id(base))
            if vid is not None and self.program.values[vid].dynamic:
                raise CompileError(
                    "tg.compile: the compiled function made an array from a traced value "
                    "outside the tensor ops (a NumPy view of its data); it would be frozen into "
                    f"the program. {_ADVICE}")
            base = base.base

    def _resolve(self, x):
        """(template with Refs, the real value, whether anything is dynamic) of an argument."""
        if isinstance(x, TracedArray):
            return Ref(x._vid), x._real, True
        if isinstance(x, Tensor):
            vid = self.tensor_value(x)
            dyn = self.program.values[vid].dynamic
            return (Ref(vid) if dyn else x._data), x._data, dyn
        if isinstance(x, np.ndarray):
            vid = self.arrays.get(id(x))
            if vid is not None and self.program.values[vid].dynamic:
                return Ref(vid), x, True
            self._refuse_derived(x)
            return x, x, False
        if isinstance(x, tuple | list):
            parts = [self._resolve(i) for i in x]
            kind = type(x)
            return (kind(p[0] for p in parts), kind(p[1] for p in parts),
                    any(p[2] for p in parts))
        if isinstance(x, dict):
            parts = {k: self._resolve(v) for k, v in x.items()}
            return ({k: p[0] for k, p in parts.items()}, {k: p[1] for k, p in parts.items()},
                    any(p[2] for p in parts.values()))
        return x, x, False

    # ------------------------------------------------------------------ engine hooks
    def mine(self) -> bool:
        """Whether the running thread is the traced one (other threads run untouched)."""
        return threading.get_ident() == self.thread

    def op(self, opdef, t: Tensor, parents, kw) -> None:
        if not self.mine():
            return
        args = tuple(Ref(self.tensor_value(p)) for p in parents)
        if kw and "index" in kw:
            refs = self.index_refs.get(id(kw["index"]))
            if refs is not None:
                kw = {**kw, "index": refs[0], "unique": refs[1]}
        vid = self._step(opdef.name, opdef.fwd, args, dict(kw or {}), t._data)
        self.tensors[id(t)] = vid
        self.keep.append(t)

    def unwrap(self, x):
        """The real array behind a TracedArray (anything else as it is)."""
        return x._real if isinstance(x, TracedArray) and self.mine() else x

    def leaf(self, t: Tensor, source) -> None:
        """``t`` was made from ``source``: when that changes per call, so does ``t``."""
        if not self.mine() or self.host_depth:
            return
        if isinstance(source, TracedArray):
            vid = source._vid
        elif isinstance(source, Tensor) and self.is_dynamic(source):
            vid = self.tensor_value(source)
        else:
            return  # a constant, found when it is used
        if t._data is self.val[vid]:
            self.tensors[id(t)] = vid
        else:
            self.tensors[id(t)] = self._step("convert", _convert, (Ref(vid),),
                                             {"dtype": t._data.dtype}, t._data)
        self.keep.append(t)

    def index(self, index, shape: tuple):
        """``prepare_index`` for ``Tensor.__getitem__``, as a step when the index is traced."""
        if not self.mine():
            return prepare_index(index, shape)
        template, real, dynamic = self._resolve(index)
        if not dynamic:
            return prepare_index(real, shape)
        norm, unique = prepare_index(real, shape)
        is_tuple = isinstance(index, tuple)
        parts = template if is_tuple else (template,)
        if _unique_by_structure(parts, norm if is_tuple else (norm,)):  # pyright: ignore[reportArgumentType]
            # the picked positions never repeat whatever the traced arrays hold: the index is
            # the traced array itself, or a tuple of it with the fixed parts, normalized
            fixed = [n if not isinstance(t, Ref) else t
                     for t, n in zip(parts, norm if is_tuple else (norm,))]  # pyright: ignore[reportArgumentType]
            ref = self._step("index", _index_of, tuple(fixed), {}, norm) if is_tuple else parts[0]  # pyright: ignore[reportIndexIssue]
            self.index_refs[id(norm)] = (Ref(ref) if isinstance(ref, int) else ref, True)
        else:
            both = self._step("prepare_index", _prepare, (shape, is_tuple, *parts), {},  # pyright: ignore[reportGeneralTypeIssues]
                              (norm, unique))
            i = self._step("item", operator.getitem, (Ref(both), 0), {}, norm)  # pyright: ignore[reportArgumentType]
            u = self._step("item", operator.getitem, (Ref(both), 1), {}, unique)  # pyright: ignore[reportArgumentType]
            self.index_refs[id(norm)] = (Ref(i), Ref(u))  # pyright: ignore[reportArgumentType]
        self.keep.append(norm)
        return norm, unique

    def host(self, fn, args: tuple, kw: dict):
        """Run a host function; a step of the program when an argument changes per call."""
        if self.host_depth or not self.mine():
            return fn(*args, **kw)
        targs, rargs, dyn_a = self._resolve(args)
        tkw, rkw, dyn_k = self._resolve(kw)
        self.host_depth += 1
        try:
            result = fn(*rargs, **rkw)  # pyright: ignore[reportCallIssue]
        finally:
            self.host_depth -= 1
        if not (dyn_a or dyn_k):
            return result
        name = getattr(fn, "__name__", "host")
        if result is None:
            self._step(name, fn, targs, tkw, None, has_out=False)  # pyright: ignore[reportArgumentType]
            return None
        if not isinstance(result, np.ndarray):
            raise CompileError(f"tg.compile: the host function {name} returned "
                               f"{type(result).__name__}; host functions return an array or "
                               "None")
        vid = self._step(name, fn, targs, tkw, result)  # pyright: ignore[reportArgumentType]
        return TracedArray(self, vid, result, f"{name}(...)")  # pyright: ignore[reportArgumentType]

    def read(self, t: Tensor, how: str) -> None:
        """Refuse to hand out the values of a traced tensor to Python."""
        if self.host_depth or not self.mine() or not self.is_dynamic(t):
            return
        raise CompileError(
            f"tg.compile: the compiled function reads the values of a traced tensor "
            f"(shape {t.shape}) with {how}; Python that depends on them cannot be replayed "
            "on the next call's data (value-dependent control flow is not supported). "
            "Return the tensor as an extra result and read it outside, or call the function "
            "uncompiled (compile=False)")

    def write(self, t: Tensor) -> None:
        """Refuse in-place changes of traced tensors inside the function."""
        if not self.mine() or (id(t) not in self.tensors and t._seq >= self.start):
            return
        raise CompileError(
            "tg.compile: the compiled function changes a tensor in place (assign_, .data = "
            "or an optimizer step); a program replays computations, not side effects. "
            "Keep the update outside the compiled function")

    def refuse(self, what: str) -> None:
        if self.mine():
            raise CompileError(f"tg.compile: {what} is not supported inside a compiled "
                               f"function. {_ADVICE}")
