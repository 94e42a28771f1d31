"""How a step writes into an array it is given (``out=``): the planner's table.

For each step name, the positions of the step's arguments to pass and a function taking them
and then ``out``, computing exactly what the step's own function computes (the same NumPy
call, only into a given array): ufuncs and ``np.matmul`` with ``out``, ``np.sum`` with
``out``, and the backward's spreads and scatters written into a reused array.

>>> import numpy as np
>>> positions, fn = INTO["B.accumulate"]
>>> out = np.empty(2)
>>> fn(np.ones(2), np.ones(2), out) is out, out.tolist()
(True, [2.0, 2.0])
"""

from __future__ import annotations

from functools import partial

import numpy as np

from tinygrad_lc.compile.program import Step, refs_in
from tinygrad_lc.core.ops import restore_axes

__all__ = ["INTO", "ELEMENTWISE", "into"]

def _expand_into(g, ndim, axis, keepdims, out):
    out[...] = restore_axes(g, ndim, axis, keepdims)  # as ops.spread_to, into a reused array
    return out


def _scatter_into(g, index, unique, out):
    out[...] = 0  # as ops.scatter_to, into a reused array
    if unique:
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def _at_g_into(a, g, out):
    if out.flags.c_contiguous:  # as ops.matmul_at_g, in the layout its result had when traced
        return np.matmul(a.T, g, out=out)
    np.matmul(g.T, a, out=out.T)
    return out


_add_reduce = np.add.reduce  # what np.sum calls for an ndarray, without its Python wrapper


def _sum_into(x, axis, keepdims, out):
    return _add_reduce(x, axis, None, out, keepdims)


def _sum_axes_into(axes, g, out):
    return _add_reduce(g, axes, None, out, True)  # as ops.unbroadcast_to: summed, axes kept


def _fill_into(g, out):
    out[...] = g  # as ops.spread_to of a 0-d gradient
    return out


def _relu_into(a, out):
    return np.maximum(a, 0, out=out)  # ops.relu is np.maximum(a, 0)


def _maximum_into(a, b, out):  # NumPy 2.4 deprecates np.maximum's positional out
    return np.maximum(a, b, out=out)


def _sum_op_into(a, out, *, axis=None, keepdims=False):
    return _add_reduce(a, axis, None, out, keepdims)


# step name -> (positions of the step's arguments to pass, function taking them, then ``out``)
INTO = {
    "add": ((0, 1), np.add), "sub": ((0, 1), np.subtract), "mul": ((0, 1), np.multiply),
    "div": ((0, 1), np.true_divide), "neg": ((0,), np.negative), "exp": ((0,), np.exp),
    "log": ((0,), np.log), "sqrt": ((0,), np.sqrt), "abs": ((0,), np.absolute),
    "maximum": ((0, 1), _maximum_into), "relu": ((0,), _relu_into),
    "B.exp": ((0,), np.exp), "B.accumulate": ((0, 1), np.add), "B.outer": ((0, 1), np.outer),
    "B.at_g": ((0, 1), _at_g_into), "B.sum": ((0, 1, 2), _sum_into),
    "B.expand": ((0, 2, 3), lambda g, axis, keepdims, out:
                 _expand_into(g, out.ndim, axis, keepdims, out)),
    "B.scatter": ((0, 2, 3), _scatter_into),
}


def into(s: Step, val: list):
    """(argument positions, function with ``out`` last) for a step that can reuse a buffer."""
    if s.name == "sum" and not refs_in(s.kw):
        return (0,), partial(_sum_op_into, **s.kw)
    if s.name == "matmul":  # matrix by matrix, or vector by vector (a 0-d result)
        ndims = {np.ndim(val[r]) for r in refs_in(s.args)}
        return ((0, 1), np.matmul) if ndims in ({2}, {1}) else None
    if s.name == "B.unbroadcast":  # the axes follow from the shapes: one np.sum
        g, shape = val[s.args[0].id], s.args[1]
        if g.ndim != len(shape):
            return None  # leading axes too: two sums, as the engine does
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        return (0,), partial(_sum_axes_into, axes)
    if s.name == "B.expand" and np.ndim(val[s.args[0].id]) == 0:
        return (0,), _fill_into  # a number spread everywhere
    if s.kw or s.name not in INTO:
        return None
    return INTO[s.name]


# steps computing elementwise: their result may overwrite an operand that dies with them
ELEMENTWISE = {"add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "abs", "maximum",
                "relu", "B.exp", "B.accumulate"}
