"""The tracing backend: the engine's reverse sweep, run on it, records the backward as steps.

Every VJP in ``ops.py`` is written against a backend ``B`` (its primitives and the arithmetic
operators). :class:`TraceBackend` has the primitives of ``ops.NumpyBackend``; its values,
:class:`Traced`, wrap an array and a value id, and each primitive or operator applied to them
computes the NumPy result and logs it as one step of the tracer's program. So the compiled
backward is made from the very VJP definitions ``backward()`` runs: nothing is derived twice.
``B.own`` copies are logged too (the optimizer elides them); ``B.accumulate`` is logged as a
plain sum (the eager engine may add in place; the values are the same).

>>> import numpy as np
>>> from tinygrad_lc.compile.trace import Tracer
>>> tr = Tracer("f")
>>> B = TraceBackend(tr)
>>> g = B.value(tr._new("input", np.ones(3), "g"))
>>> (g * 2.0).vid, tr.program.steps[-1].name
(1, 'mul')
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.compile.program import Ref
from tinygrad_lc.compile.trace import Tracer
from tinygrad_lc.core.ops import NUMPY, OPS, PRIMITIVES
from tinygrad_lc.core.tensor import Tensor

__all__ = ["TraceBackend", "Traced"]


def _add(q, pg):
    """The sum of two gradients (the engine's accumulate, never in place)."""
    return q + pg


class Traced:
    """A value of the traced backward: the array and its value id; operators log steps."""

    __slots__ = ("vid", "arr", "tracer")
    __array_ufunc__ = None  # `ndarray * Traced` defers to Traced.__rmul__

    def __init__(self, tracer: Tracer, vid: int, arr):
        self.tracer, self.vid, self.arr = tracer, vid, arr

    shape = property(lambda self: np.shape(self.arr))
    ndim = property(lambda self: np.ndim(self.arr))
    size = property(lambda self: np.size(self.arr))
    dtype = property(lambda self: self.arr.dtype)
    _data = property(lambda self: self.arr)  # what anomaly checks read

    def _op(self, name: str, *operands) -> Traced:
        return self.tracer.backend.call(name, OPS[name].fwd, operands)  # pyright: ignore[reportAttributeAccessIssue]

    def __add__(self, o): return self._op("add", self, o)
    def __radd__(self, o): return self._op("add", o, self)
    def __sub__(self, o): return self._op("sub", self, o)
    def __rsub__(self, o): return self._op("sub", o, self)
    def __mul__(self, o): return self._op("mul", self, o)
    def __rmul__(self, o): return self._op("mul", o, self)
    def __truediv__(self, o): return self._op("div", self, o)
    def __rtruediv__(self, o): return self._op("div", o, self)
    def __matmul__(self, o): return self._op("matmul", self, o)
    def __rmatmul__(self, o): return self._op("matmul", o, self)
    def __neg__(self): return self._op("neg", self)

    def __pow__(self, p):
        return self.tracer.backend.call("pow", OPS["pow"].fwd, (self,), {"p": p})  # pyright: ignore[reportAttributeAccessIssue]


# the functions the trace runs for the backend's primitives: NumPy's, accumulate not in place
_PRIMITIVE_FNS = {name: getattr(NUMPY, name) for name in PRIMITIVES}
_PRIMITIVE_FNS["accumulate"] = _add


class TraceBackend:
    """The primitives of ``ops.NumpyBackend`` on :class:`Traced` values, each logged as a step."""

    name = "trace"

    def __init__(self, tracer: Tracer):
        self.tracer = tracer
        tracer.backend = self  # pyright: ignore[reportAttributeAccessIssue]
        self._traced: dict = {}

    def value(self, vid: int) -> Traced:
        t = self._traced.get(vid)
        if t is None:
            t = self._traced[vid] = Traced(self.tracer, vid, self.tracer.val[vid])
        return t

    def saved(self, node: Tensor):
        """A node's output and inputs as traced values (nothing for a node read from outside)."""
        tr = self.tracer
        vid = tr.tensor_value(node)
        if tr.program.values[vid].kind == "input":
            return None, [None] * len(node.parents)  # its VJPs are not run: it is an input
        return self.value(vid), [self.value(tr.tensor_value(p)) for p in node.parents]

    def call(self, name: str, fn, operands: tuple, kw: dict | None = None) -> Traced:
        tr = self.tracer
        args = tuple(Ref(o.vid) if isinstance(o, Traced) else o for o in operands)
        real = [o.arr if isinstance(o, Traced) else o for o in operands]
        kw = kw or {}
        if name in ("B.take", "B.scatter"):  # an index traced in the forward stays traced
            at = 1 if name == "B.take" else 2
            refs = tr.index_refs.get(id(real[at]))
            if refs is not None:
                args = args[:at] + refs + args[at + 2:]
        result = fn(*real, **kw)
        if name == "B.zeros":  # a constant: it depends on the shape only
            return self.value(tr._new("const", result, const=result, dynamic=False))
        return self.value(tr._step(name, fn, args, kw, result))  # pyright: ignore[reportArgumentType]


def _primitive(name: str):
    fn = _PRIMITIVE_FNS[name]

    def call(self, *args, **kw):
        return self.call(f"B.{name}", fn, args, kw)

    call.__name__ = name
    return call


for _name in PRIMITIVES:
    if _name != "saved":
        setattr(TraceBackend, _name, _primitive(_name))
