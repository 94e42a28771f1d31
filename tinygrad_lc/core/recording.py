"""The recording backend: the VJP primitives of ``ops.py`` as recorded Tensor ops.

``tg.grad(..., create_graph=True)`` runs each node's VJPs, the very functions the plain
backward runs on arrays, on :data:`TENSOR`: the values are Tensors (the node's output and its
parents), the arithmetic operators are Tensor ops, and each primitive below is an op of the
table, so the gradient is a graph that can be differentiated again, to any order:

- ``sum`` and ``expand`` are each other's VJPs; ``take`` (getitem) and ``scatter`` too;
- ``cast`` converts dtypes (its VJP is the identity; the engine casts back);
- ``mask`` returns a plain ndarray computed from the values (relu's ``a > 0``, max's tie
  shares): an operand without gradient, so second derivatives through a mask are 0.

>>> import tinygrad_lc as tg
>>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> TENSOR.expand(x, (3, 2), 0, False).op
'expand'
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.core.ops import PRIMITIVES, kept_shape
from tinygrad_lc.core.tensor import Tensor, apply_op, apply_op2, host, make_node


def _reshape(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    return x if x._data.shape == shape else apply_op("reshape", (x,), {"shape": shape})


def _sum(x: Tensor, axis, keepdims) -> Tensor:
    return apply_op("sum", (x,), {"axis": axis, "keepdims": bool(keepdims)})


def _transpose(x: Tensor, axes) -> Tensor:
    return apply_op("transpose", (x,), {"axes": None if axes is None else tuple(axes)})


def _restore(g: Tensor, ndim: int, axis, keepdims) -> Tensor:
    return g if keepdims else _reshape(g, kept_shape(g._data.shape, ndim, axis))


def _unbroadcast(g: Tensor, shape: tuple) -> Tensor:
    extra = g.ndim - len(shape)
    if extra:
        g = _sum(g, tuple(range(extra)), False)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g._data.shape[i] != 1)
    return _sum(g, stretched, True) if stretched else g


@host  # under tg.compile, a mask of traced values is recomputed on every replay
def _mask(fn, *arrays, **kw) -> np.ndarray:
    return np.asarray(fn(*arrays, **kw))


def _constant(data: np.ndarray) -> Tensor:
    return make_node(data, False, None, (), None, None)


class TensorBackend:
    """The primitives of :class:`tinygrad_lc.core.ops.NumpyBackend`, each a recorded Tensor op."""

    name = "tensor"
    sum = staticmethod(_sum)
    exp = staticmethod(lambda x: apply_op("exp", (x,)))
    softmax = staticmethod(lambda x, axis: apply_op("softmax", (x,), {"axis": axis}))
    restore = staticmethod(_restore)
    expand = staticmethod(lambda g, shape, axis, keepdims: apply_op(
        "expand", (g,), {"shape": tuple(shape), "axis": axis, "keepdims": bool(keepdims)}))
    reshape = staticmethod(_reshape)
    transpose = staticmethod(_transpose)
    take = staticmethod(lambda x, index, unique: apply_op(
        "getitem", (x,), {"index": index, "unique": unique}))
    scatter = staticmethod(lambda g, shape, index, unique: apply_op(
        "scatter", (g,), {"shape": tuple(shape), "index": index, "unique": unique}))
    at_g = staticmethod(lambda a, g: apply_op2("matmul", _transpose(a, None), g))
    g_bt = staticmethod(lambda g, b: apply_op2("matmul", g, _transpose(b, None)))
    outer = staticmethod(lambda a, b: apply_op2(
        "mul", _reshape(a, (a.size, 1)), _reshape(b, (1, b.size))))
    zeros = staticmethod(lambda x: _constant(np.zeros(x._data.shape, x._data.dtype)))
    mask = staticmethod(lambda fn, *values, **kw: _mask(fn, *(v._data for v in values), **kw))
    unbroadcast = staticmethod(_unbroadcast)
    cast = staticmethod(lambda x, dtype: apply_op("cast", (x,), {"dtype": np.dtype(dtype)}))
    own = staticmethod(lambda x: x)  # recorded values are never written in place
    saved = staticmethod(lambda t: (t, t.parents))  # a node's output and inputs, as values
    accumulate = staticmethod(lambda q, pg: apply_op2("add", q, pg))


TENSOR = TensorBackend()

__all__ = ["TENSOR", "TensorBackend", "PRIMITIVES"]
