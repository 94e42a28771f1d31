"""The table of differentiable primitives: each NumPy forward beside its vector-Jacobian products.

An op is a NumPy forward ``fwd(*arrays, **kw) -> array`` and one VJP per input,
``vjp(B, g, out, *inputs, **kw)``, mapping the upstream gradient ``g`` (shaped like ``out``) to
the gradient for that input. A VJP never calls NumPy itself: it is written with the arithmetic
operators and the primitives of a *backend* ``B`` (``B.sum``, ``B.exp``, ``B.expand``, ...,
listed on :class:`NumpyBackend`). So one definition of each derivative serves every backend:

- :data:`NUMPY` (here): values are ndarrays, the saved values are the forward's arrays. This is
  the plain, fast ``backward()``.
- ``recording.TENSOR``: values are Tensors and every primitive is an op of this table, so the
  backward is itself a recorded graph that can be differentiated again
  (``tg.grad(..., create_graph=True)``).
- A tracing backend (``tg.compile``) can log each primitive call into a flat program whose
  replay calls :data:`NUMPY`'s function of the same name.

A VJP returns a new array or a view of ``g``, never an array it keeps. The engine
(``tensor.py``) owns everything the ops would otherwise repeat: summing gradients back over
broadcast axes, casting them to each input's dtype, skipping inputs that need no gradient and
accumulating, each through the same backend.

Conventions at ties and kinks (subgradients): ``max`` and ``maximum`` split the gradient evenly
among tied entries; ``abs`` and ``relu`` have derivative 0 at 0. Those choices are *masks*
computed from the forward values (``B.mask``): constants, so second derivatives through them are
0 away from the kinks.

Ops with a kink register ``kink(*arrays, **kw)``: an integer array saying which side of each
kink the inputs are on. Gradient checking compares it before and after a finite-difference
step to tell a kink crossing from a wrong derivative.

An op (and a backend primitive) whose NumPy call can write into a given array declares that
*buffer form* beside its forward: ``into=Into(fn, ...)``, where ``fn`` is the same NumPy call
with ``out`` (a ufunc, ``np.matmul``, ``np.add.reduce``, or a spread or scatter written into the
array). ``tg.compile`` gives such a step an array allocated once and reused on every replay
(``compile/buffers.py`` reads the forms from here); the result is the eager one, bit for bit.

>>> g = np.array([1.0, 2.0])
>>> OPS["exp"].vjps[0](NUMPY, g, np.exp([0.0, 1.0]), np.array([0.0, 1.0]))  # g * exp(a)
array([1.        , 5.43656366])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from tinygrad_lc.kernels import add_into_f_ordered, matmul_into
from tinygrad_lc.kernels import matmul as matmul_kernel


@dataclass(frozen=True)
class Into:
    """A buffer form: how a call writes its result into a given array ``out``.

    ``fn`` computes exactly what the call computes (the same NumPy call, only with ``out``), so
    a compiled program that hands it an array it reuses gets the eager result, bit for bit.

    Attributes
    ----------
    fn : callable or None
        ``fn(*args, out, **kw)``: the call's arguments at the positions ``at``, then ``out``
        (shaped, typed and laid out like the call's result), then the op's keyword arguments.
        Returns ``out``. None for a form that depends on the call (``pick``).
    at : tuple of int, optional
        The positions of the call's arguments that ``fn`` takes (a shape that ``out`` already
        has is left out); None: all of them.
    elementwise : bool
        Each entry of the result is computed from the same entries of the operands (a ufunc),
        so ``out`` may be one of the operands: an operand that dies with the call is written
        over.
    new : bool
        The call always returns an array of its own. False for a call that may hand back its
        argument itself (``unbroadcast_to``, when nothing was broadcast): a compiled program
        never writes over its result in place.
    pick : callable, optional
        For a form that depends on the call: ``pick(*args, **kw)``, given the call's arguments
        (arrays as traced: their shapes and dtypes hold on every call), returns the form of
        that call (an ``Into`` with ``fn``), or None where it has none.

    >>> Into(np.add, elementwise=True).fn(np.ones(2), np.ones(2), np.empty(2))
    array([2., 2.])
    """

    fn: Callable | None = None
    at: tuple | None = None
    elementwise: bool = False
    new: bool = True
    pick: Callable | None = None


@dataclass(frozen=True)
class Op:
    """One primitive: its name, NumPy forward, VJPs, and facts the engine and tools use."""

    name: str
    fwd: Callable  # fwd(*arrays, **kw) -> array
    vjps: tuple  # vjp(B, g, out, *inputs, **kw) per input; variadic ops: one taking k=
    arity: int  # number of tensor inputs; -1 for variadic (concatenate, stack)
    needs_values: bool  # whether the VJPs read the forward's values (mutation guard)
    kink: Callable | None = None
    into: Into | None = None  # the forward written into a given array (``tg.compile``)

    def vjps_for(self, n: int) -> tuple:
        """The VJPs of a call with ``n`` inputs (a variadic op's one VJP bound to each k)."""
        return self.vjps if self.arity >= 0 else _bind_k(self.vjps[0], n)


@lru_cache(maxsize=64)
def _bind_k(vjp: Callable, n: int) -> tuple:
    return tuple(partial(vjp, k=k) for k in range(n))


OPS: dict[str, Op] = {}


def op(name: str, arity: int = 1, needs_values: bool = True, kink: Callable | None = None,
       vjps: tuple = (), into: Into | None = None):
    """Register ``fwd`` in :data:`OPS` under ``name`` with its VJPs and buffer form."""

    def register(fwd: Callable) -> Callable:
        OPS[name] = Op(name, fwd, tuple(vjps), arity, needs_values, kink, into)
        return fwd

    return register


# ---------------------------------------------------------------- the NumPy backend
def kept_shape(shape: tuple, ndim: int, axis) -> tuple:
    """The shape a reduction over ``axis`` of an ``ndim``-d array has with keepdims=True.

    >>> kept_shape((2, 4), 3, 1)
    (2, 1, 4)
    """
    if axis is None:
        return (1,) * ndim
    axes = {a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))}
    rest = iter(shape)
    return tuple(1 if i in axes else next(rest) for i in range(ndim))


def restore_axes(g, ndim: int, axis, keepdims):
    """Put back the reduced axes of ``g`` (size 1) so it broadcasts against the input."""
    if keepdims:
        return g
    if axis is None:
        return np.reshape(g, (1,) * ndim)
    return np.expand_dims(g, axis)


def spread_to(g, shape: tuple, axis, keepdims) -> np.ndarray:
    """A new array of ``shape`` holding ``g`` repeated over the reduced axes."""
    out = np.empty(shape, dtype=g.dtype)
    out[...] = restore_axes(g, len(shape), axis, keepdims)  # one pass; cheaper than a copy
    return out


def spread_into(g, axis, keepdims, out: np.ndarray) -> np.ndarray:
    """:func:`spread_to` into the given array ``out`` (its shape is the ``shape``)."""
    out[...] = restore_axes(g, out.ndim, axis, keepdims)
    return out


def fill_into(g, out: np.ndarray) -> np.ndarray:
    """:func:`spread_to` of a 0-d ``g`` into ``out``: the number everywhere."""
    out[...] = g
    return out


def spread_form(g, shape: tuple, axis, keepdims) -> Into:
    """The buffer form of :func:`spread_to` for this ``g``: a number is filled in (one
    assignment), anything else spread."""
    return Into(fill_into, at=(0,)) if np.ndim(g) == 0 else Into(spread_into, at=(0, 2, 3))


def scatter_to(g, shape: tuple, index, unique: bool) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated positions accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    if unique:
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def scatter_into(g, index, unique: bool, out: np.ndarray) -> np.ndarray:
    """:func:`scatter_to` into the given array ``out`` (its shape is the ``shape``)."""
    out[...] = 0
    if unique:
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def matmul_at_g(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """A^T G (the weight gradient), by the form ``kernels`` chose for it on this machine.

    >>> matmul_at_g(np.ones((3, 2)), np.ones((3, 4))).shape
    (2, 4)
    """
    return matmul_kernel(a.T, g)


def matmul_at_g_into(a: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`matmul_at_g` into ``out``, bit for bit."""
    return matmul_into(a.T, g, out)


def matmul_g_bt(g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """G B^T (the input gradient), by the form ``kernels`` chose for it on this machine."""
    return matmul_kernel(g, b.T)


def matmul_g_bt_into(g: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`matmul_g_bt` into ``out``, bit for bit."""
    return matmul_into(g, b.T, out)


def unbroadcast_to(g, shape: tuple):
    """Sum ``g`` over the axes that broadcasting added or stretched to reach ``shape``."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g


# what np.sum calls for an ndarray, without its Python wrapper
_add_reduce: Callable[..., Any] = np.add.reduce


def sum_kept_into(axes: tuple, g, out: np.ndarray) -> np.ndarray:
    """``g`` summed over ``axes``, kept with size 1, into ``out``."""
    return _add_reduce(g, axes, None, out, True)


def unbroadcast_form(g, shape: tuple) -> Into | None:
    """The buffer form of :func:`unbroadcast_to` for this ``g`` and ``shape``: the axes follow
    from the shapes, so one sum with them bound; None with leading axes too (two sums)."""
    if g.ndim != len(shape):
        return None
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return Into(partial(sum_kept_into, axes), at=(0,))


def _accumulate(q, pg):
    """``q + pg``, in place into whichever is a fresh array nobody else holds. Into an
    F-ordered one beside a C-ordered other only if ``kernels`` timed that faster on this
    machine than a new C-ordered sum (an F-ordered A^T G plus an L2 gradient); same values."""
    if q.__class__ is np.ndarray and q.base is None and q.flags.writeable and (
            q.flags.c_contiguous or not pg.flags.c_contiguous
            or add_into_f_ordered(q.shape, q.dtype)):
        q += pg
        return q
    if pg.__class__ is np.ndarray and pg.base is None and pg.flags.writeable and (
            pg.flags.c_contiguous or not q.flags.c_contiguous
            or add_into_f_ordered(pg.shape, pg.dtype)):
        pg += q
        return pg
    return q + pg


class Primitive(staticmethod):
    """A primitive of :class:`NumpyBackend`: a static method that also carries its buffer form.

    Parameters
    ----------
    fn : callable
        The primitive itself; ``NUMPY.<name>`` is ``fn`` (no wrapper on the engine's path).
    into : Into, optional
        Its buffer form, for ``tg.compile``'s step ``B.<name>`` (see :func:`primitive_into`).
    """

    def __init__(self, fn: Callable, into: Into | None = None):
        super().__init__(fn)
        self.into = into


class NumpyBackend:
    """The primitives VJPs are written with, on ndarrays. Every backend has these names.

    Besides them a VJP uses ``+ - * / @``, unary ``-``, ``**`` with a constant exponent and
    the attributes ``shape``, ``ndim``, ``size``, ``dtype`` of its values. The last five
    are the engine's own (broadcast reduction, dtype, accumulation, aliasing, and the values
    a node's VJPs read: the sweep inlines this backend's ``saved`` on its hot path). A
    primitive whose call can write into a given array carries that buffer form (``into``).
    """

    name = "numpy"
    sum = Primitive(lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
                    Into(lambda x, axis, keepdims, out: _add_reduce(x, axis, None, out, keepdims)))
    exp = Primitive(np.exp, Into(np.exp, elementwise=True))
    softmax = Primitive(lambda x, axis: softmax(x, axis=axis))  # over an axis or axes
    restore = Primitive(restore_axes)  # (g, ndim, axis, keepdims): reduced axes back, size 1
    # (g, shape, axis, keepdims): repeated over the reduced axes
    expand = Primitive(spread_to, Into(pick=spread_form))
    reshape = Primitive(np.reshape)  # (x, shape)
    transpose = Primitive(np.transpose)  # (x, axes)
    take = Primitive(lambda x, index, unique: x[index])  # x[index]
    # (g, shape, index, unique): adjoint of take
    scatter = Primitive(scatter_to, Into(scatter_into, at=(0, 2, 3)))
    at_g = Primitive(matmul_at_g, Into(matmul_at_g_into))  # (a, g): a^T g for 2-D a, g
    g_bt = Primitive(matmul_g_bt, Into(matmul_g_bt_into))  # (g, b): g b^T for 2-D g, b
    outer = Primitive(np.outer, Into(np.outer))  # (a, b): a b^T for 1-D a, b
    zeros = Primitive(np.zeros_like)  # (x): a constant 0 shaped like x
    mask = Primitive(lambda fn, *values, **kw: fn(*values, **kw))  # a constant from values
    # (g, shape); the result may be g itself: never written over in place
    unbroadcast = Primitive(unbroadcast_to, Into(new=False, pick=unbroadcast_form))
    cast = Primitive(lambda x, dtype: x.astype(dtype))
    own = Primitive(lambda x: x.copy())  # a gradient array no other tensor holds
    saved = Primitive(lambda t: (t._data, [p._data for p in t.parents]))  # (out, inputs)
    # (q, pg): q + pg (in place on ndarrays; written into a given array it is np.add)
    accumulate = Primitive(_accumulate, Into(np.add, elementwise=True))


NUMPY = NumpyBackend()
PRIMITIVES = tuple(n for n in vars(NumpyBackend) if not n.startswith("_") and n != "name")


def primitive_into(name: str) -> Into | None:
    """The buffer form of the backend primitive ``name`` (``B.<name>`` in a VJP), or None.

    >>> primitive_into("exp").elementwise, primitive_into("reshape")
    (True, None)
    """
    prim = vars(NumpyBackend).get(name)
    return prim.into if isinstance(prim, Primitive) else None


# ---------------------------------------------------------------- elementwise arithmetic
# d(a + b) = da + db
@op("add", 2, needs_values=False, into=Into(np.add, elementwise=True),
    vjps=(lambda B, g, out, a, b: g,
          lambda B, g, out, a, b: g))
def add(a, b):
    return a + b


# d(a - b) = da - db
@op("sub", 2, needs_values=False, into=Into(np.subtract, elementwise=True),
    vjps=(lambda B, g, out, a, b: g,
          lambda B, g, out, a, b: -g))
def sub(a, b):
    return a - b


# d(ab) = b da + a db
@op("mul", 2, into=Into(np.multiply, elementwise=True),
    vjps=(lambda B, g, out, a, b: g * b,
          lambda B, g, out, a, b: g * a))
def mul(a, b):
    return a * b


# d(a / b) = da / b - (a / b) db / b
@op("div", 2, into=Into(np.true_divide, elementwise=True),
    vjps=(lambda B, g, out, a, b: g / b,
          lambda B, g, out, a, b: -g * out / b))
def div(a, b):
    return a / b


# d(-a) = -da
@op("neg", 1, needs_values=False, into=Into(np.negative, elementwise=True),
    vjps=(lambda B, g, out, a: -g,))
def neg(a):
    return -a


# d(a^p) = p a^(p-1) da, and exactly 0 for p = 0 (even at a = 0)
@op("pow", 1, vjps=(lambda B, g, out, a, *, p: B.zeros(g) if p == 0 else g * (p * a ** (p - 1)),))
def pow_(a, *, p):
    return a**p


# d(c^a) = c^a ln(c) da
@op("rpow", 1, vjps=(lambda B, g, out, a, *, base: g * (out * math.log(base)),))
def rpow(a, *, base):
    return base**a


# ---------------------------------------------------------------- elementwise functions
# d exp(a) = exp(a) da
@op("exp", into=Into(np.exp, elementwise=True), vjps=(lambda B, g, out, a: g * out,))
def exp(a):
    return np.exp(a)


# d log(a) = da / a
@op("log", into=Into(np.log, elementwise=True), vjps=(lambda B, g, out, a: g / a,))
def log(a):
    return np.log(a)


# d sqrt(a) = da / (2 sqrt(a))
@op("sqrt", into=Into(np.sqrt, elementwise=True), vjps=(lambda B, g, out, a: g / (2 * out),))
def sqrt(a):
    return np.sqrt(a)


def _sign_kink(a):
    return np.sign(a).astype(np.int8)


# d|a| = sign(a) da, with sign(0) = 0
@op("abs", kink=_sign_kink, into=Into(np.absolute, elementwise=True),
    vjps=(lambda B, g, out, a: g * B.mask(np.sign, a),))
def abs_(a):
    return np.abs(a)


def _positive(a):
    return a > 0


def _relu_into(a, out):
    return np.maximum(a, 0, out=out)


# d relu(a) = [a > 0] da
@op("relu", kink=_sign_kink, into=Into(_relu_into, elementwise=True),
    vjps=(lambda B, g, out, a: g * B.mask(_positive, a),))
def relu(a):
    return np.maximum(a, 0)


def _share(a, b):
    """1 where ``a`` wins, 0 where it loses, 1/2 where it ties with ``b``."""
    win = a > b
    tie = a == b
    return np.where(tie, 0.5, win) if tie.any() else win


def _maximum_kink(a, b):
    return np.sign(a - b).astype(np.int8)


def _maximum_into(a, b, out):
    return np.maximum(a, b, out=out)  # by name: NumPy 2.4 deprecates np.maximum's positional out


# d max(a, b) = [a > b] da + [b > a] db, split in half where a == b
@op("maximum", 2, kink=_maximum_kink, into=Into(_maximum_into, elementwise=True),
    vjps=(lambda B, g, out, a, b: g * B.mask(_share, a, b),
          lambda B, g, out, a, b: g * B.mask(_share, b, a)))
def maximum(a, b):
    return np.maximum(a, b)


# ---------------------------------------------------------------- reductions
def _reduced(kept, axis, keepdims):
    """A keepdims result without the reduced axes (unless ``keepdims``)."""
    if keepdims:
        return kept
    return kept.reshape(()) if axis is None else np.squeeze(kept, axis)


def _sum_into(a, out, *, axis=None, keepdims=False):
    return _add_reduce(a, axis, None, out, keepdims)


# d sum(a) = the upstream gradient repeated over the summed axes
@op("sum", needs_values=False, into=Into(_sum_into), vjps=(
    lambda B, g, out, a, *, axis=None, keepdims=False: B.expand(g, a.shape, axis, keepdims),))
def sum_(a, *, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims)


# d mean(a) = upstream gradient / n, repeated over the averaged axes
@op("mean", needs_values=False, vjps=(
    lambda B, g, out, a, *, axis=None, keepdims=False:
        B.expand(g / max(a.size // max(out.size, 1), 1), a.shape, axis, keepdims),))
def mean(a, *, axis=None, keepdims=False):
    return np.mean(a, axis=axis, keepdims=keepdims)


def _max_kink(a, *, axis=None, keepdims=False):
    return (a == np.max(a, axis=axis, keepdims=True)).astype(np.int8)


def _max_share(a, out, *, axis, keepdims):
    """1/k at each of the k tied maximal entries of every reduced slice, else 0."""
    hit = a == restore_axes(out, a.ndim, axis, keepdims)
    return hit / np.sum(hit, axis=axis, keepdims=True)


# d max(a) = upstream gradient at the argmax, split evenly among ties
@op("max", kink=_max_kink, vjps=(
    lambda B, g, out, a, *, axis=None, keepdims=False:
        B.restore(g, a.ndim, axis, keepdims)
        * B.mask(_max_share, a, out, axis=axis, keepdims=keepdims),))
def max_(a, *, axis=None, keepdims=False):
    return np.asarray(np.max(a, axis=axis, keepdims=keepdims))


def _shifted(a, axis):
    """The max ``m`` of ``a`` over ``axis`` (kept dims; 0 where not finite), ``a - m``, exp of it.

    No exponent is positive, so nothing overflows, and the results are computed from ``a - m``
    (small where it matters): scores of +-1e4 give exact results in float32 too.
    """
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    z = a - m
    return m, z, np.exp(z)


# d lse(a) = softmax(a) * upstream gradient (softmax over the reduced axes)
@op("logsumexp", vjps=(
    lambda B, g, out, a, *, axis=None, keepdims=False:
        B.restore(g, a.ndim, axis, keepdims) * B.softmax(a, axis),))
def logsumexp(a, *, axis=None, keepdims=False):
    m, _, e = _shifted(a, axis)
    lse = m + np.log(np.sum(e, axis=axis, keepdims=True))
    return _reduced(lse, axis, keepdims)


# d log_softmax(a) = g - softmax(a) * sum(g), softmax(a) = exp(log_softmax(a))
@op("log_softmax", vjps=(
    lambda B, g, out, a, *, axis=-1: g - B.exp(out) * B.sum(g, axis, True),))
def log_softmax(a, *, axis=-1):
    _, z, e = _shifted(a, axis)
    return z - np.log(np.sum(e, axis=axis, keepdims=True))


# d softmax(a) = s * (g - sum(g * s)); axis may also be a tuple or None (logsumexp's VJP)
@op("softmax", vjps=(lambda B, g, out, a, *, axis=-1: out * (g - B.sum(g * out, axis, True)),))
def softmax(a, *, axis=-1):
    e = _shifted(a, axis)[2]
    return e / np.sum(e, axis=axis, keepdims=True)


# ---------------------------------------------------------------- linear algebra
def _matmul_a(B, g, out, a, b):
    # gA = G B^T (1-D operands as row/column vectors)
    if b.ndim == 1:
        return B.outer(g, b) if a.ndim == 2 else g * b
    return B.g_bt(g, b) if a.ndim == 2 else b @ g


def _matmul_b(B, g, out, a, b):
    # gB = A^T G
    if a.ndim == 1:
        return B.outer(a, g) if b.ndim == 2 else g * a
    return B.at_g(a, g) if b.ndim == 2 else g @ a


def _matmul_form(a, b) -> Into | None:
    """The product written into a given array for matrix by matrix (in the form ``kernels``
    chose) or vector by vector (a 0-d result); no buffer form for the other products."""
    if np.ndim(a) == np.ndim(b) == 2:
        return Into(matmul_into)
    return Into(np.matmul) if np.ndim(a) == np.ndim(b) == 1 else None


# d(AB) = dA B + A dB; matrix products take the form kernels.matmul timed fastest here
@op("matmul", 2, into=Into(pick=_matmul_form), vjps=(_matmul_a, _matmul_b))
def matmul(a, b):
    return matmul_kernel(a, b)


# ---------------------------------------------------------------- shape and indexing
# reshape moves no values: the gradient is reshaped back
@op("reshape", needs_values=False, vjps=(
    lambda B, g, out, a, *, shape: B.reshape(g, a.shape),))
def reshape(a, *, shape):
    return np.reshape(a, shape)


# a permutation of axes: the gradient takes the inverse permutation
@op("transpose", needs_values=False, vjps=(
    lambda B, g, out, a, *, axes=None:
        B.transpose(g, None if axes is None else tuple(np.argsort(axes))),))
def transpose(a, *, axes=None):
    return np.transpose(a, axes)


# the gradient scatters back to the indexed positions, adding where an index repeats
@op("getitem", needs_values=False, vjps=(
    lambda B, g, out, a, *, index, unique=True: B.scatter(g, a.shape, index, unique),))
def getitem(a, *, index, unique=True):
    return a[index]


def _piece(B, g, out, *arrays, axis=0, k):
    # piece k of the gradient: its slice along the joined axis
    ax = axis % out.ndim
    start = sum(x.shape[ax] for x in arrays[:k])
    cut = slice(start, start + arrays[k].shape[ax])
    return B.take(g, (slice(None),) * ax + (cut,), True)


# the gradient is cut back into the pieces along the joined axis
@op("concatenate", -1, needs_values=False, vjps=(_piece,))
def concatenate(*arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


# the gradient is taken apart along the new axis
@op("stack", -1, needs_values=False, vjps=(
    lambda B, g, out, *arrays, axis=0, k: B.take(g, (slice(None),) * (axis % out.ndim) + (k,),
                                                 True),))
def stack(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


# ---------------------------------------------------------------- ops of the backward pass
# Recorded gradients (create_graph=True) need three more ops, each the adjoint of another.


# repeats a reduced array over the reduced axes (sum's VJP); its own VJP is that sum
@op("expand", needs_values=False, vjps=(
    lambda B, g, out, a, *, shape, axis=None, keepdims=False: B.sum(g, axis, keepdims),))
def expand(a, *, shape, axis=None, keepdims=False):
    return spread_to(a, shape, axis, keepdims)


# adds a into zeros at index (getitem's VJP); its own VJP reads the gradient at index
@op("scatter", needs_values=False, vjps=(
    lambda B, g, out, a, *, shape, index, unique=True: B.take(g, index, unique),))
def scatter(a, *, shape, index, unique=True):
    return scatter_to(a, shape, index, unique)


# a dtype conversion: the gradient passes through (the engine casts it back)
@op("cast", needs_values=False, vjps=(lambda B, g, out, a, *, dtype: g,))
def cast(a, *, dtype):
    return a.astype(dtype)
