"""The table of differentiable primitives: each forward beside its vector-Jacobian product.

Every op is a plain NumPy function ``fwd(*arrays, **kw) -> (out, vjps)`` where ``vjps`` holds
one callable per input mapping the upstream gradient ``g`` (shaped like ``out``) to the gradient
for that input. A VJP returns a new array or a view of ``g``, never an array it keeps (the
engine may accumulate into a new array in place). The engine (``tensor.py``) owns everything
the ops would otherwise repeat: summing gradients back over broadcast axes, casting them to
each input's dtype, skipping inputs that do not require grad, and accumulating. Ops know
nothing about ``Tensor``, so the closures hold arrays only and the graph has no cycles.

Conventions at ties and kinks (subgradients): ``max`` and ``maximum`` split the gradient evenly
among tied entries; ``abs`` and ``relu`` have derivative 0 at 0.

Ops with a kink register ``kink(*arrays, **kw)``: an integer array saying which side of each
kink the inputs are on. Gradient checking compares it before and after a finite-difference
step to tell a kink crossing from a wrong derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Op:
    """One primitive: its name, forward-with-VJPs, and facts the engine and tools use."""

    name: str
    fwd: Callable
    arity: int  # number of tensor inputs; -1 for variadic (concatenate, stack)
    needs_values: bool  # whether the VJPs read the forward's values (mutation guard)
    kink: Callable | None = None


OPS: dict[str, Op] = {}


def op(name: str, arity: int = 1, needs_values: bool = True, kink: Callable | None = None):
    """Register ``fwd`` in :data:`OPS` under ``name``."""

    def register(fwd: Callable) -> Callable:
        OPS[name] = Op(name, fwd, arity, needs_values, kink)
        return fwd

    return register


def _expand(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Put back the reduced axes of ``g`` so it broadcasts against an input of ``shape``."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return g


# ---------------------------------------------------------------- elementwise arithmetic
@op("add", 2, needs_values=False)
def add(a, b):
    # d(a + b) = da + db
    return a + b, (lambda g: g, lambda g: g)


@op("sub", 2, needs_values=False)
def sub(a, b):
    # d(a - b) = da - db
    return a - b, (lambda g: g, lambda g: -g)


@op("mul", 2)
def mul(a, b):
    # d(ab) = b da + a db
    return a * b, (lambda g: g * b, lambda g: g * a)


@op("div", 2)
def div(a, b):
    # d(a / b) = da / b - a db / b^2
    out = a / b
    return out, (lambda g: g / b, lambda g: -g * out / b)


@op("neg", 1, needs_values=False)
def neg(a):
    # d(-a) = -da
    return -a, (lambda g: -g,)


@op("pow", 1)
def pow_(a, *, p):
    # d(a^p) = p a^(p-1) da (and exactly 0 for p = 0, even at a = 0)
    if p == 0:
        return a**p, (lambda g: np.zeros_like(g),)
    return a**p, (lambda g: g * (p * a ** (p - 1)),)


@op("rpow", 1)
def rpow(a, *, base):
    # d(c^a) = c^a ln(c) da
    out = base**a
    return out, (lambda g: g * out * np.log(base),)


# ---------------------------------------------------------------- elementwise functions
@op("exp")
def exp(a):
    # d exp(a) = exp(a) da
    out = np.exp(a)
    return out, (lambda g: g * out,)


@op("log")
def log(a):
    # d log(a) = da / a
    return np.log(a), (lambda g: g / a,)


@op("sqrt")
def sqrt(a):
    # d sqrt(a) = da / (2 sqrt(a))
    out = np.sqrt(a)
    return out, (lambda g: g / (2 * out),)


@op("abs", kink=lambda a: np.sign(a).astype(np.int8))
def abs_(a):
    # d|a| = sign(a) da, with sign(0) = 0
    return np.abs(a), (lambda g: g * np.sign(a),)


@op("relu", kink=lambda a: np.sign(a).astype(np.int8))
def relu(a):
    # d relu(a) = [a > 0] da
    return np.maximum(a, 0), (lambda g: g * (a > 0),)


def _maximum_kink(a, b):
    return np.sign(a - b).astype(np.int8)


@op("maximum", 2, kink=_maximum_kink)
def maximum(a, b):
    # d max(a, b) = [a > b] da + [b > a] db, split in half where a == b
    def share(g, first: bool):
        win = a > b if first else b > a
        out = g * win
        tie = a == b
        if tie.any():
            out = out + 0.5 * g * tie
        return out

    return np.maximum(a, b), (lambda g: share(g, True), lambda g: share(g, False))


# ---------------------------------------------------------------- reductions
def _spread(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """A new array of ``shape`` holding ``g`` repeated over the reduced axes."""
    out = np.empty(shape, dtype=g.dtype)
    out[...] = _expand(g, shape, axis, keepdims)  # one pass; cheaper than broadcast_to + copy
    return out


@op("sum", needs_values=False)
def sum_(a, *, axis=None, keepdims=False):
    # d sum(a) = the upstream gradient repeated over the summed axes
    shape = a.shape
    return np.sum(a, axis=axis, keepdims=keepdims), (
        lambda g: _spread(g, shape, axis, keepdims),
    )


@op("mean", needs_values=False)
def mean(a, *, axis=None, keepdims=False):
    # d mean(a) = upstream gradient / n, repeated over the averaged axes
    shape = a.shape
    out = np.mean(a, axis=axis, keepdims=keepdims)
    n = a.size // max(out.size, 1) if a.size else 1
    return out, (lambda g: _spread(g / n, shape, axis, keepdims),)


def _max_kink(a, *, axis=None, keepdims=False):
    return (a == np.max(a, axis=axis, keepdims=True)).astype(np.int8)


@op("max", kink=_max_kink)
def max_(a, *, axis=None, keepdims=False):
    # d max(a) = upstream gradient at the argmax, split evenly among ties
    m = np.max(a, axis=axis, keepdims=True)
    out = m if keepdims else (m.reshape(()) if axis is None else np.squeeze(m, axis))

    def vjp(g):
        hit = a == m
        return hit * (_expand(g, a.shape, axis, keepdims) / np.sum(hit, axis=axis, keepdims=True))

    return np.asarray(out), (vjp,)


def _stable_lse(a, axis):
    """Return (logsumexp keeping dims, exp(a - lse)) with the max shifted out for stability."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(a - m)
    s = np.sum(e, axis=axis, keepdims=True)
    lse = m + np.log(s)
    return lse, e / s


@op("logsumexp")
def logsumexp(a, *, axis=None, keepdims=False):
    # d lse(a) = softmax(a) * upstream gradient
    lse, p = _stable_lse(a, axis)
    out = lse if keepdims else (lse.reshape(()) if axis is None else np.squeeze(lse, axis))
    return out, (lambda g: _expand(g, a.shape, axis, keepdims) * p,)


@op("log_softmax")
def log_softmax(a, *, axis=-1):
    # d log_softmax(a) = g - softmax(a) * sum(g)
    lse, p = _stable_lse(a, axis)
    return a - lse, (lambda g: g - p * np.sum(g, axis=axis, keepdims=True),)


@op("softmax")
def softmax(a, *, axis=-1):
    # d softmax(a) = s * (g - sum(g * s))
    _, s = _stable_lse(a, axis)
    return s, (lambda g: s * (g - np.sum(g * s, axis=axis, keepdims=True)),)


# ---------------------------------------------------------------- linear algebra
def _at_g(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """A^T G computed as (G^T A)^T into a Fortran-ordered array of its own.

    With OpenBLAS the skinny product G^T A is 1.1-1.6x faster than A^T G for a weight
    gradient of shape (3073, 10) (measured by benchmarks/losses.py); writing it through the
    transposed view of an F-ordered result avoids a copy. For wider results (a hidden layer's
    (3073, 100)) the two products cost about the same, while every later elementwise op
    between the F-ordered gradient and C-ordered arrays (an L2 term's gradient, optimizer
    state) crosses layouts and ran up to 40x slower (benchmarks/nn.py): plain A^T G there.
    """
    if g.shape[1] > 32:
        return a.T @ g
    out = np.empty((a.shape[1], g.shape[1]), dtype=np.result_type(a, g), order="F")
    np.matmul(g.T, a, out=out.T)
    return out


@op("matmul", 2)
def matmul(a, b):
    # d(AB) = dA B + A dB, so gA = G B^T and gB = A^T G (1-D operands as row/column vectors)
    out = a @ b
    if a.ndim == 2 and b.ndim == 2:
        return out, (lambda g: g @ b.T, lambda g: _at_g(a, g))
    if a.ndim == 1 and b.ndim == 2:
        return out, (lambda g: b @ g, lambda g: np.outer(a, g))
    if a.ndim == 2 and b.ndim == 1:
        return out, (lambda g: np.outer(g, b), lambda g: g @ a)
    return out, (lambda g: g * b, lambda g: g * a)


# ---------------------------------------------------------------- shape and indexing
@op("reshape", needs_values=False)
def reshape(a, *, shape):
    # reshape moves no values: the gradient is reshaped back
    old = a.shape
    return np.reshape(a, shape), (lambda g: np.reshape(g, old),)


@op("transpose", needs_values=False)
def transpose(a, *, axes=None):
    # a permutation of axes: the gradient takes the inverse permutation
    inv = None if axes is None else tuple(np.argsort(axes))
    return np.transpose(a, axes), (lambda g: np.transpose(g, inv),)


@op("getitem", needs_values=False)
def getitem(a, *, index, unique=True):
    # the gradient scatters back to the indexed positions, adding where an index repeats
    shape = a.shape

    def vjp(g):
        out = np.zeros(shape, dtype=g.dtype)
        if unique:
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    return a[index], (vjp,)


@op("concatenate", -1, needs_values=False)
def concatenate(*arrays, axis=0):
    # the gradient is cut back into the pieces along the joined axis
    ends = np.cumsum([x.shape[axis] for x in arrays])[:-1]
    out = np.concatenate(arrays, axis=axis)
    pieces = lambda g: np.split(g, ends, axis=axis)
    return out, tuple((lambda g, k=k: pieces(g)[k]) for k in range(len(arrays)))


@op("stack", -1, needs_values=False)
def stack(*arrays, axis=0):
    # the gradient is taken apart along the new axis
    out = np.stack(arrays, axis=axis)
    return out, tuple((lambda g, k=k: np.take(g, k, axis=axis)) for k in range(len(arrays)))
