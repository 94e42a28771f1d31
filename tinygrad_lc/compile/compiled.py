"""``tg.compile``: trace a loss once per input signature, then replay it without per-op Python.

The first call with a new *signature* (the shapes, dtypes and layouts of the array and tensor
arguments, which tensors require grad, and every other argument by value) runs the function
eagerly while a tracer records each op, and runs the engine's reverse sweep on a tracing
backend, which records the backward from the same VJP definitions ``backward()`` uses. The
result is a flat :class:`~tinygrad_lc.compile.program.Program` of forward and backward steps,
optimized and planned (``compile_plan.py``): constants folded, repeated steps merged, buffers
reused through ``out=``, dead values dropped. Later calls with that signature bind the new
data to the program's inputs and run its steps in one loop: no Tensor per intermediate, no
graph walk, no per-op checks. Loss and gradients are bit for bit those of the eager engine.

The call returns a Tensor whose ``backward()`` runs the backward steps and fills ``.grad`` of
the inputs that require grad, accumulating as eager does. Tensors the function reads from
outside (a model's parameters in a closure) are inputs too, read on every call.

Limits (as for ``jax.jit``): Python that depends on tensor values (``if loss.item() > 0``,
``t.data`` in NumPy) cannot be replayed and is refused while tracing; a function is traced
again for every new signature (at most ``cache_size`` programs are kept, least recently used
dropped); side effects of the function (printing, in-place updates) happen only when tracing.

>>> import numpy as np, tinygrad_lc as tg
>>> @tg.compile
... def loss(W, X, y):
...     return tg.losses.svm_loss(tg.Tensor(X) @ W, y)
>>> W = tg.Tensor(np.zeros((3, 2)), requires_grad=True)
>>> X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
>>> out = loss(W, X, y)
>>> out.backward()
>>> out.item(), W.grad.shape
(1.0, (3, 2))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any, overload

import numpy as np

from tinygrad_lc.compile.check import compare
from tinygrad_lc.compile.plan import Plan, optimize, plan
from tinygrad_lc.compile.program import Program
from tinygrad_lc.compile.record import names, trace
from tinygrad_lc.compile.trace import CompileError
from tinygrad_lc.compile.watch import find_paths, watcher
from tinygrad_lc.core import tensor as engine
from tinygrad_lc.core.ops import NUMPY, Op
from tinygrad_lc.core.tensor import Tensor

__all__ = ["compile", "CompiledFunction", "CompileError"]

def _grad_on() -> bool:
    return engine.current_modes().grad_enabled


def _eager_only() -> bool:
    """Inside a trace, ``detect_anomaly()`` or gradcheck's kink log: run the function eagerly."""
    tracer = engine.active_tracer()
    if tracer is not None and tracer.mine():
        return True
    return engine.current_modes().anomaly or (engine.open_kink_logs > 0 and
                                        engine.KINK_LOG.get() is not None)


# ---------------------------------------------------------------------- signatures
def _signature(x, leaves: list):
    """A hashable key for argument ``x``; its Tensors and arrays are appended to ``leaves``."""
    if isinstance(x, Tensor):
        leaves.append(x)
        d = x._data
        return ("T", d.shape, d.dtype.str, d.strides, x.requires_grad)
    if isinstance(x, np.ndarray):
        leaves.append(x)
        return ("A", x.shape, x.dtype.str, x.strides)
    if isinstance(x, tuple | list):
        return (type(x).__name__, tuple(_signature(v, leaves) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, _signature(x[k], leaves)) for k in sorted(x, key=repr)))
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"tg.compile: an argument of type {type(x).__name__} is neither a "
                        "Tensor, an array, nor hashable; other arguments are part of the "
                        "signature by value, so they must be hashable (a tuple, not a list "
                        "of numbers)") from None
    return ("V", type(x).__name__, x)


# ---------------------------------------------------------------------- one signature
class _Entry:
    """One signature's program: its plan, the pool of buffers, and what binds the inputs."""

    def __init__(self, name: str, raw: Program, val: list, captured: list, check: bool,
                 paths: list):
        self.raw = raw
        self.program, self.rep = optimize(raw, val)
        self.plan: Plan = plan(self.program, val)
        self.check_plan = plan(self.program, val, keep_all=True) if check else None
        self.captured = [(t, t._data.shape, t._data.dtype, t.requires_grad) for t in captured]
        self.paths = paths  # where f finds the captured tensors (watch.find_paths)
        self.still_bound = watcher(paths) if paths else None  # (args, kwargs) -> bool
        self.lock = threading.Lock()  # held while a call uses the pool's buffers
        self.opdef = Op(f"compiled {name}", None, (), -1, True)  # pyright: ignore[reportArgumentType]
        self.grad_inputs = raw.grad_inputs

    def captured_ok(self, args: tuple, kwargs: dict) -> bool:
        """Whether the tensors read from outside are still the ones traced (f still finds
        them where it did: not rebound) with the shape, dtype and requires_grad traced."""
        for t, s, d, r in self.captured:
            if t._data.shape != s or t._data.dtype != d or t.requires_grad != r:
                return False
        return self.still_bound is None or self.still_bound(args, kwargs)

    def acquire(self, p: Plan) -> tuple:
        """(env for a call, whether it holds the pool): a second call at once gets new buffers."""
        if p is self.plan and self.lock.acquire(False):
            return list(p.template), True
        return p.fresh_template(), False

    def forward(self, arrays: list, p: Plan | None = None) -> tuple:
        p = p or self.plan
        env, lease = self.acquire(p)
        try:
            for slot, a in zip(self.program.inputs, arrays):
                env[slot] = a
            p.run_forward(env)  # pyright: ignore[reportCallIssue]
        except BaseException:
            if lease:
                self.lock.release()
            raise
        return env, lease

    def call(self, leaves: list) -> object:
        tensors = [*leaves, *(c[0] for c in self.captured)]
        arrays = [t._data if isinstance(t, Tensor) else t for t in tensors]
        env, lease = self.forward(arrays)
        p = self.plan
        loss = np.asarray(env[p.loss_slot])
        aux = [engine.make_node(np.asarray(env[s]), False, None, (), None, None)
               for s in p.aux_slots]
        if not p.grad_slots:
            if lease:
                self.lock.release()
            node = engine.make_node(loss, False, None, (), None, None)
        else:
            pending = _Pending(self, env, lease, arrays)
            grads = [tensors[k] for k in self.grad_inputs]
            others = [t for t in tensors if isinstance(t, Tensor) and not t.requires_grad]
            vjps = tuple(partial(_vjp, pending, k) for k in range(len(grads)))
            node = engine.make_node(loss, True, self.opdef, tuple(grads + others),
                                vjps + (_never,) * len(others), None)
        return (node, *aux) if self.program.returns_tuple else node


def _never(B, g, out, *ins):  # an input without gradient: the engine never asks
    raise AssertionError("unreachable")


def _vjp(pending: _Pending, k: int, B, g, out, *ins):
    if B is not NUMPY:
        raise CompileError(
            "tg.compile: a gradient through a compiled function cannot be recorded "
            "(create_graph=True); call the function uncompiled for higher-order gradients")
    return pending.grad(k, g)


class _Pending:
    """A call waiting for ``backward()``: its env (forward values) and its hold on the pool."""

    __slots__ = ("entry", "env", "lease", "arrays", "g", "grads")

    def __init__(self, entry: _Entry, env: list, lease: bool, arrays: list):
        self.entry, self.env, self.lease, self.arrays = entry, env, lease, arrays
        self.g = self.grads = None

    def grad(self, k: int, g) -> np.ndarray:
        if self.grads is None or g is not self.g or self.grads[k] is None:
            self._backward(g)
        out, self.grads[k] = self.grads[k], None  # handed over once: the engine may add into it  # pyright: ignore[reportArgumentType, reportCallIssue, reportOptionalSubscript]
        return out

    def _backward(self, g) -> None:
        entry, p = self.entry, self.entry.plan
        if self.env is None:  # a second backward(): the buffers went back; run it all again
            self.env, self.lease = entry.forward(self.arrays)
        env = self.env
        try:
            env[p.seed_slot] = g  # pyright: ignore[reportArgumentType, reportCallIssue]
            p.run_backward(env)  # pyright: ignore[reportCallIssue]
            self.grads = [np.asarray(env[s]) for s in p.grad_slots]
            self.g = g
        finally:
            self.env = None
            self._release()

    def _release(self) -> None:
        if self.lease:
            self.lease = False
            self.entry.lock.release()

    def __del__(self):
        self._release()


# ---------------------------------------------------------------------- the decorator
class CompiledFunction:
    """What ``tg.compile(f)`` returns: call it like ``f``; see :func:`compile`."""

    def __init__(self, f: Callable, check: bool, cache_size: int):
        self.f = f
        self.check = check
        self.cache_size = cache_size
        self.name: str = getattr(f, "__name__", type(f).__name__)
        self._cache: OrderedDict = OrderedDict()
        self.traces: int = 0  # how many times f was traced (a new signature, or a guard failed)
        self.__doc__ = getattr(f, "__doc__", None)
        self.__wrapped__ = f

    def __repr__(self) -> str:
        return f"<compiled {self.name}: {len(self._cache)} program(s)>"

    def _entry(self, args: tuple, kwargs: dict) -> tuple:
        leaves: list = []
        key = [_grad_on()]
        for x in args:  # the common kinds inline: this runs on every call
            if x.__class__ is Tensor:
                leaves.append(x)
                d = x._data
                key.append((d.shape, d.dtype.str, d.strides, x.requires_grad))  # pyright: ignore[reportArgumentType]
            elif x.__class__ is np.ndarray:
                leaves.append(x)
                key.append((x.shape, x.dtype.str, x.strides))  # pyright: ignore[reportArgumentType]
            else:
                key.append(_signature(x, leaves))  # pyright: ignore[reportArgumentType]
        if kwargs:
            key.append(_signature(kwargs, leaves))  # pyright: ignore[reportArgumentType]
        sig = tuple(key)
        entry = self._cache.get(sig)
        if entry is not None and (not entry.captured or entry.captured_ok(args, kwargs)):
            self._cache.move_to_end(sig)
            return entry, leaves
        raw, val, captured = trace(self.f, self.name, args, kwargs, leaves,
                                   names(self.f, args, kwargs), sig[0])
        self.traces += 1
        entry = _Entry(self.name, raw, val, captured, self.check,
                       find_paths(self.f, args, kwargs, captured))
        self._cache[sig] = entry
        self._cache.move_to_end(sig)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return entry, leaves

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _eager_only():
            return self.f(*args, **kwargs)
        entry, leaves = self._entry(args, kwargs)
        if self.check:
            compare(self, entry, args, kwargs, leaves)
        return entry.call(leaves)

    def trace(self, *args: Any, **kwargs: Any) -> Program:
        """The planned program for these arguments (traced now if their signature is new)."""
        return self._entry(args, kwargs)[0].program

    def program(self, *args: Any, **kwargs: Any) -> str:
        """The program for these arguments as text: one step per line, with buffer names."""
        return self.trace(*args, **kwargs).text()


@overload
def compile(f: Callable, *, check: bool = False, cache_size: int = 8) -> CompiledFunction: ...
@overload
def compile(f: None = None, *, check: bool = False, cache_size: int = 8
            ) -> Callable[[Callable], CompiledFunction]: ...
def compile(f: Callable | None = None, *, check: bool = False, cache_size: int = 8
            ) -> CompiledFunction | Callable[[Callable], CompiledFunction]:
    """Compile ``f``: traced once per input signature, then replayed (see the module docstring).

    Parameters
    ----------
    f : callable
        Takes Tensors, arrays and other values; returns a scalar Tensor (or a tuple whose first
        item is one: the other Tensors come back as values without a graph).
    check : bool
        Debugging mode: every call traces ``f`` eagerly as well and compares every step of the
        replay with it, raising ``CompileError`` naming the first step that differs.
    cache_size : int
        How many signatures' programs to keep (least recently used dropped first).

    Returns
    -------
    CompiledFunction
        Called like ``f``. ``.program(*args)`` gives the program as text, ``.trace(*args)``
        as a Program (``viz.draw_graph`` draws it).

    Examples
    --------
    >>> import numpy as np, tinygrad_lc as tg
    >>> f = tg.compile(lambda w, x: (w * x).sum())
    >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> f(w, np.array([3.0, 4.0])).item()
    11.0
    >>> print(f.program(w, np.array([3.0, 4.0])))
    inputs:
      %0 w  (2,) float64  (gradient)
      %1 x  (2,) float64
      %4 seed  () float64  (the upstream gradient, given by backward())
    forward:
      %2 = mul(%0, %1)  (2,) float64  -> buf0
      %3 = sum(%2, axis=None, keepdims=False)  () float64
    backward:
      %5 = B.expand(%4, (2,), None, False)  (2,) float64
      %6 = mul(%5, %1)  (2,) float64  -> into %5
    outputs: loss %3, grad w %6
    buffers: 1 reused on every call, 0.0 kB
    """
    if f is None:
        return partial(compile, check=check, cache_size=cache_size)
    if not callable(f):
        raise TypeError(f"tg.compile: f must be callable, got {type(f).__name__}")
    if not isinstance(check, bool):
        raise TypeError(f"tg.compile: check must be True or False, got {check!r}")
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
        raise ValueError(f"tg.compile: cache_size must be an int >= 1, got {cache_size!r}")
    return CompiledFunction(f, check, cache_size)
