"""Differential fuzzing of the engine: random expression graphs checked against HIPS autograd.

A :class:`Program` is a recorded list of instructions over a few float64 inputs. It is run twice,
once with ``tinygrad_lc`` Tensors and once with ``autograd.numpy`` functions, and the gradients
(of the inputs and of every intermediate node, for a random upstream gradient) are compared with
each other and with float64 central differences of the same program. Second order too: for
random directions ``w_i``, the gradient of ``sum_i <grad_i, w_i>`` (``tg.grad`` with
``create_graph=True``, then again) is compared with HIPS autograd's gradient of its own gradient
and with central differences of the plain first-order backward.

The strategy :func:`programs` builds the program while evaluating it, so it keeps every kink
(abs, relu, maximum, max) at least ``GAP`` away from its input and every log/sqrt/pow/div away
from its domain edge *by construction*: kink inputs are shifted to a cut point in a gap of their
values, denominators and log/sqrt arguments are made ``x * x + c``, exp arguments are scaled.
``check_program`` still verifies that no finite-difference step crossed a kink, so a wrong
construction fails loudly instead of being hidden.

Run ``python -m tests.fuzz_graphs --examples 10000`` from the repository root (``make fuzz``).
(One file on purpose: the program format, both interpreters, the strategy and the check must
change together.)
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lc as tg
from tinygrad_lc.core import tensor as engine
from tinygrad_lc.core.indexing import prepare_index
from tinygrad_lc.core.ops import kept_shape

GAP = 0.05  # least distance of any kink input from its kink
BOUND = 20.0  # largest |value| of any node (keeps derivatives, hence FD errors, bounded)
MAX_SIZE = 48  # largest node (keeps central differences cheap)
H = 1e-6  # central-difference step
STATS: Counter = Counter()  # graphs and ops checked in this process


@dataclass(frozen=True)
class Const:
    """A constant operand (a number or an array), as opposed to a node index."""

    value: object


@dataclass
class Instr:
    op: str
    args: tuple  # node indices (int) or Const
    kw: dict = field(default_factory=dict)


@dataclass
class Program:
    inputs: list
    instrs: list
    upstream: np.ndarray
    directions: list | None = None  # the w_i of the second-order check (None: fixed ones)

    def ws(self) -> list:
        if self.directions is not None:
            return self.directions
        return [np.linspace(-1.0, 1.0, x.size).reshape(x.shape) for x in self.inputs]

    def __repr__(self) -> str:
        lines = [f"x{i} = {np.array2string(x, precision=17, separator=', ')}"
                 for i, x in enumerate(self.inputs)]
        k = len(self.inputs)
        for j, ins in enumerate(self.instrs):
            args = ", ".join(f"n{a}" if isinstance(a, int) else repr(a.value) for a in ins.args)
            kw = ", ".join(f"{key}={val!r}" for key, val in ins.kw.items())
            lines.append(f"n{k + j} = {ins.op}({args}{', ' if kw else ''}{kw})")
        lines.append(f"upstream = {np.array2string(self.upstream, separator=', ')}")
        return "Program(\n  " + "\n  ".join(lines).replace("n0 ", "x0 ") + "\n)"


# ---------------------------------------------------------------- the two implementations
def _lse(a, axis):
    m = anp.max(getval(a), axis=axis, keepdims=True)  # a constant shift: no gradient through it
    return m + anp.log(anp.sum(anp.exp(a - m), axis=axis, keepdims=True))


def _squeeze(x, axis, keepdims):
    return x if keepdims else anp.squeeze(x, axis=axis)


TG = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "neg": lambda a: -a, "maximum": tg.maximum,
    "pow": lambda a, p: a**p, "rpow": lambda a, base: base**a,
    "exp": lambda a: a.exp(), "log": lambda a: tg.log(a), "sqrt": lambda a: a.sqrt(),
    "abs": lambda a: a.abs(), "relu": lambda a: a.relu(),
    "sum": lambda a, axis, keepdims: a.sum(axis=axis, keepdims=keepdims),
    "mean": lambda a, axis, keepdims: a.mean(axis=axis, keepdims=keepdims),
    "max": lambda a, axis, keepdims: a.max(axis=axis, keepdims=keepdims),
    "logsumexp": lambda a, axis, keepdims: a.logsumexp(axis=axis, keepdims=keepdims),
    "softmax": lambda a, axis: a.softmax(axis), "log_softmax": lambda a, axis: a.log_softmax(axis),
    "matmul": lambda a, b: a @ b, "reshape": lambda a, shape: a.reshape(*shape),
    "transpose": lambda a, axes: a.transpose(*axes), "T": lambda a: a.T,
    "getitem": lambda a, index: a[index],
    "concatenate": lambda *xs, axis: tg.concatenate(list(xs), axis=axis),
    "stack": lambda *xs, axis: tg.stack(list(xs), axis=axis),
    # the ops recorded gradients are made of (no user-level spelling: through the engine)
    "expand": lambda a, **kw: engine.apply_op("expand", (a,), kw),
    "scatter": lambda a, shape, index: engine.apply_op("scatter", (a,), {
        "shape": shape, "index": index, "unique": prepare_index(index, shape)[1]}),
    "cast": lambda a, dtype: engine.apply_op("cast", (a,), {"dtype": np.dtype(dtype)}),
}


def _expand(a, shape, axis, keepdims):
    kept = anp.shape(a) if keepdims else kept_shape(anp.shape(a), len(shape), axis)
    return anp.reshape(a, kept) + np.zeros(shape)


def _scatter(a, shape, index):
    """Zeros of ``shape`` with ``a`` added at ``index``: a 0/1 matrix times the flattened a."""
    size = int(np.prod(shape))
    picked = np.ravel(np.arange(size).reshape(shape)[index])
    spread = np.zeros((size, picked.size))
    spread[picked, np.arange(picked.size)] = 1.0
    return anp.reshape(anp.dot(spread, anp.ravel(a)), shape)

def _getitem_0d(a, index):
    # autograd's getitem VJP cannot accumulate into a 0-d array (np.add.at refuses it)
    return anp.reshape(a, np.empty(())[index].shape)


# autograd.numpy versions; they also run on plain ndarrays (generation, central differences).
NP = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "neg": lambda a: -a, "maximum": anp.maximum,
    "pow": lambda a, p: a**p, "rpow": lambda a, base: base**a,
    "exp": anp.exp, "log": anp.log, "sqrt": anp.sqrt, "abs": anp.abs,
    "relu": lambda a: anp.where(a > 0, a, 0.0),
    "sum": anp.sum, "mean": anp.mean, "max": anp.max,
    "logsumexp": lambda a, axis, keepdims: _squeeze(_lse(a, axis), axis, keepdims),
    "softmax": lambda a, axis: anp.exp(a - _lse(a, axis)),
    "log_softmax": lambda a, axis: a - _lse(a, axis),
    "matmul": anp.dot, "reshape": lambda a, shape: anp.reshape(a, shape),
    "transpose": lambda a, axes: anp.transpose(a, axes), "T": anp.transpose,
    "getitem": lambda a, index: a[index] if anp.ndim(a) else _getitem_0d(a, index),
    "concatenate": lambda *xs, axis: anp.concatenate(xs, axis=axis),
    "stack": lambda *xs, axis: anp.stack(xs, axis=axis),
    "expand": _expand, "scatter": _scatter, "cast": lambda a, dtype: a,
}

# Which side of its kink each input of a kink op is on (plain ndarrays only).
KINKS = {
    "abs": lambda a: np.sign(a), "relu": lambda a: np.sign(a),
    "maximum": lambda a, b: np.sign(a - b),
    "max": lambda a, axis, keepdims: a == np.max(a, axis=axis, keepdims=True),
}


def run(prog: Program, inputs, impl: dict, deltas=None, kinks: list | None = None) -> list:
    """Values of every node (inputs first). ``deltas`` are added to the instruction outputs."""
    vals = list(inputs)
    for j, ins in enumerate(prog.instrs):
        args = [vals[a] if isinstance(a, int) else a.value for a in ins.args]
        if kinks is not None and ins.op in KINKS:
            kinks.append(KINKS[ins.op](*args, **ins.kw))
        out = impl[ins.op](*args, **ins.kw)
        vals.append(out if deltas is None else out + deltas[j])
    return vals


# ---------------------------------------------------------------- the strategy
class _Builder:
    """Records instructions while evaluating them on the drawn inputs."""

    def __init__(self, inputs):
        self.vals, self.instrs, self.used = list(inputs), [], set()
        self.k = len(inputs)

    def emit(self, op: str, *args, **kw) -> int:
        vals = [self.vals[a] if isinstance(a, int) else a.value for a in args]
        self.vals.append(np.asarray(NP[op](*vals, **kw), dtype=np.float64))
        self.instrs.append(Instr(op, args, kw))
        self.used.update(a for a in args if isinstance(a, int))
        return len(self.vals) - 1

    def mark(self):
        return len(self.instrs), set(self.used)

    def bounded_since(self, mark) -> bool:
        """Whether every node emitted since ``mark`` is non-empty, small, finite and bounded."""
        return all(v.size and v.size <= MAX_SIZE and np.isfinite(v).all()
                   and np.abs(v).max() <= BOUND for v in self.vals[self.k + mark[0]:])

    def rollback(self, mark) -> None:
        del self.instrs[mark[0]:], self.vals[self.k + mark[0]:]
        self.used = mark[1]


def _cut(draw, v) -> float:
    """A cut point at least GAP away from every entry of ``v``: 0, a gap midpoint or outside."""
    u = np.unique(v)
    cands = [float(u[0]) - 1.0, float(u[-1]) + 1.0]
    cands += [float(lo + hi) / 2 for lo, hi in zip(u[:-1], u[1:]) if hi - lo >= 2 * GAP]
    if np.abs(u).min() >= GAP:
        cands.append(0.0)
    return draw(st.sampled_from(cands))


def _positive(draw, b: _Builder, n: int) -> int:
    """A node equal to ``n`` when its entries are >= 0.2, else ``n * n + c`` (c >= 0.5)."""
    if b.vals[n].min() >= 0.2 and draw(st.booleans()):
        return n
    c = draw(st.sampled_from([0.5, 1.0, 2.0, 1]))
    return b.emit("add", b.emit("mul", n, n), Const(c))


def _const_like(draw, shape, nonzero=False):
    form = draw(st.sampled_from(["scalar", "int", "full", "last"]))
    lo = 0.5 if nonzero else 0.0
    mag = st.floats(lo, 2.0)
    if form == "int":
        return Const(draw(st.integers(1, 3)) * draw(st.sampled_from([1, -1])))
    if form == "scalar" or not shape:
        return Const(draw(mag) * draw(st.sampled_from([1.0, -1.0])))
    sub = shape if form == "full" else shape[-1:]
    arr = draw(hnp.arrays(np.float64, sub, elements=mag)) * draw(st.sampled_from([1.0, -1.0]))
    return Const(arr)


def _node(draw, b: _Builder, pred=lambda v: True) -> int | None:
    ok = [i for i, v in enumerate(b.vals) if pred(v)]
    return draw(st.sampled_from(ok)) if ok else None


def _broadcastable(s, t) -> bool:
    try:
        np.broadcast_shapes(s, t)
        return True
    except ValueError:
        return False


def _step_binary(draw, b, a):
    op = draw(st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
    shape = b.vals[a].shape
    other = None
    if draw(st.booleans()):
        other = _node(draw, b, lambda v: _broadcastable(v.shape, shape))
    left = draw(st.booleans())  # the drawn node `a` on the left
    if op == "div":
        if other is None:
            if left:
                return b.emit("div", a, _const_like(draw, shape, nonzero=True))
            return b.emit("div", _const_like(draw, shape), _positive(draw, b, a))
        num, den = (a, other) if left else (other, a)
        return b.emit("div", num, _positive(draw, b, den))
    if op == "maximum":
        if other is None:  # the lecture's maximum(0, margins) form, with the cut chosen safely
            c = Const(_cut(draw, b.vals[a]))
            return b.emit("maximum", *((a, c) if left else (c, a)))
        t = _cut(draw, np.asarray(b.vals[a] - b.vals[other]))
        return b.emit("maximum", a, b.emit("add", other, Const(t)) if t else other)
    if other is None:
        other = _const_like(draw, shape)
    return b.emit(op, *((a, other) if left else (other, a)))


def _step_unary(draw, b, a):
    op = draw(st.sampled_from(["neg", "exp", "log", "sqrt", "abs", "relu", "pow", "rpow"]))
    v = b.vals[a]
    big = float(np.abs(v).max())
    if op in ("exp", "rpow") and big > 2.0:
        a = b.emit("mul", a, Const(2.0 / big))
    if op in ("log", "sqrt"):
        return b.emit(op, _positive(draw, b, a))
    if op in ("abs", "relu"):
        t = _cut(draw, v)
        return b.emit(op, b.emit("sub", a, Const(t)) if t else a)
    if op == "pow":
        p = draw(st.sampled_from([2, 3, 2.0, 0.5, -1.0, 1.5, -0.5]))
        return b.emit("pow", a if p in (2, 3) else _positive(draw, b, a), p=p)
    if op == "rpow":
        return b.emit("rpow", a, base=draw(st.sampled_from([0.5, 2.0, 3])))
    return b.emit(op, a)


def _axes(ndim, axis) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(x % ndim for x in (axis if isinstance(axis, tuple) else (axis,))))


def _slices(v, axes):
    """``v`` as (kept..., reduced) with the reduced axes flattened last, and the permutation."""
    rest = [i for i in range(v.ndim) if i not in axes]
    perm = rest + list(axes)
    return np.transpose(v, perm).reshape(*(v.shape[i] for i in rest), -1), perm


def _argmax_onehot(v, axes):
    """1 at the first largest entry of each slice over ``axes``, else 0."""
    w, perm = _slices(v, axes)
    hot = np.zeros_like(w)
    np.put_along_axis(hot, w.argmax(-1)[..., None], 1.0, -1)
    return np.transpose(hot.reshape([v.shape[i] for i in perm]), np.argsort(perm))


def _step_reduce(draw, b, a):
    v = b.vals[a]
    if v.ndim == 0:
        return b.emit(draw(st.sampled_from(["sum", "mean"])), a, axis=None, keepdims=False)
    op = draw(st.sampled_from(["sum", "mean", "max", "logsumexp", "softmax", "log_softmax"]))
    axis_int = draw(st.integers(-v.ndim, v.ndim - 1))
    if op in ("softmax", "log_softmax"):
        return b.emit(op, a, axis=axis_int)
    axis = draw(st.sampled_from([None, axis_int] + ([tuple(
        draw(st.lists(st.integers(0, v.ndim - 1), min_size=2, max_size=v.ndim, unique=True)))]
        if v.ndim >= 2 else [])))
    keepdims = draw(st.booleans())
    if op == "max":  # move the largest entry of each slice GAP*4 clear of the others
        axes = _axes(v.ndim, axis)
        top = np.sort(_slices(v, axes)[0], axis=-1)
        if top.shape[-1] > 1 and (top[..., -1] - top[..., -2]).min() < GAP:
            a = b.emit("add", a, Const(4 * GAP * _argmax_onehot(v, axes)))
    return b.emit(op, a, axis=axis, keepdims=keepdims)


def _reshapes(shape) -> list:
    size = int(np.prod(shape))
    out = [(-1,), (size,), shape[::-1], shape + (1,), (1,) + shape,
           tuple(n for n in shape if n != 1)]
    if len(shape) >= 2:
        out.append((shape[0], -1))
    return out + ([()] if size == 1 else [])


def _index(draw, shape):
    if not shape:
        return draw(st.sampled_from([None, Ellipsis, ()]))
    n0 = shape[0]
    kind = draw(st.sampled_from(["int", "slice", "basic", "array", "list", "mask", "pair"]))
    ints = st.integers(-n0, n0 - 1)
    if kind == "int":
        return draw(ints)
    if kind == "slice":
        return slice(draw(st.none() | ints), draw(st.none() | ints),
                     draw(st.sampled_from([None, 1, 2, -1, -2])))
    if kind == "basic":
        parts = [draw(st.one_of(ints.map(int), st.just(slice(None)),
                                st.just(slice(None, None, -1))))]
        if len(shape) >= 2:
            parts.append(slice(0, draw(st.integers(1, shape[1]))))
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from([None, Ellipsis])))
        return tuple(parts)
    if kind in ("array", "list"):
        idx = draw(hnp.arrays(np.intp, draw(st.sampled_from([(3,), (2, 2), (1,)])), elements=ints))
        if kind == "list":
            return idx.ravel().tolist()
        if len(shape) >= 2 and draw(st.booleans()):
            return (slice(None), np.clip(idx, 0, shape[1] - 1))
        return idx
    if kind == "mask":
        m = draw(hnp.arrays(np.bool_, shape if draw(st.booleans()) else shape[:1]))
        m.flat[draw(st.integers(0, m.size - 1))] = True
        return m
    if len(shape) == 2:
        y = draw(hnp.arrays(np.int64, (n0,), elements=st.integers(0, shape[1] - 1)))
        return (np.arange(n0), y)
    return draw(ints)


def _step_shape(draw, b, a):
    v = b.vals[a]
    op = draw(st.sampled_from(["reshape", "transpose", "T", "getitem", "getitem"]))
    if op == "reshape":
        return b.emit("reshape", a, shape=draw(st.sampled_from(_reshapes(v.shape))))
    if op == "transpose" and v.ndim >= 2:
        return b.emit("transpose", a, axes=tuple(draw(st.permutations(range(v.ndim)))))
    if op == "getitem":
        return b.emit("getitem", a, index=_index(draw, v.shape))
    return b.emit("T", a)


def _step_matmul(draw, b, a):
    v = b.vals[a]
    if v.ndim not in (1, 2):
        a = b.emit("reshape", a, shape=(-1,))
        v = b.vals[a]
    n = v.shape[-1]
    other = _node(draw, b, lambda w: w.ndim in (1, 2) and w.shape[0] == n)
    if other is None or draw(st.booleans()):
        shape = draw(st.sampled_from([(n,), (n, 1), (n, 2), (n, 3)]))
        other = Const(draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1))))
    if draw(st.booleans()):
        return b.emit("matmul", a, other)
    m = v.shape[0]  # constant on the left: (k, m) @ (m, ...) or (m,) @ (m, ...)
    left = Const(draw(hnp.arrays(np.float64, draw(st.sampled_from([(m,), (2, m)])),
                                 elements=st.floats(-1, 1))))
    return b.emit("matmul", left, a)


def _step_join(draw, b, a):
    v = b.vals[a]
    if v.ndim == 0:
        a = b.emit("reshape", a, shape=(1,))
        v = b.vals[a]
    if draw(st.booleans()):
        axis = draw(st.integers(-v.ndim, v.ndim - 1))
        ax = axis % v.ndim
        same = lambda w: w.ndim == v.ndim and all(
            w.shape[i] == v.shape[i] for i in range(v.ndim) if i != ax)
        parts = [a, _node(draw, b, same)]
        if draw(st.booleans()):
            shape = v.shape[:ax] + (draw(st.integers(1, 2)),) + v.shape[ax + 1:]
            parts.insert(draw(st.integers(0, 2)), Const(np.full(shape, draw(st.floats(-1, 1)))))
        return b.emit("concatenate", *parts, axis=axis)
    parts = [a, _node(draw, b, lambda w: w.shape == v.shape)]
    return b.emit("stack", *parts, axis=draw(st.integers(-v.ndim - 1, v.ndim)))


def _step_adjoint(draw, b, a):
    """The ops of recorded gradients: expand (sum's VJP), scatter (getitem's), cast."""
    v = b.vals[a]
    op = draw(st.sampled_from(["expand", "expand", "scatter", "scatter", "cast"]))
    if op == "cast":
        return b.emit("cast", a, dtype="float64")
    if op == "expand":
        ones = [i for i, n in enumerate(v.shape) if n == 1]
        if ones and draw(st.booleans()):  # stretch a size-1 axis (a keepdims reduction's)
            ax = draw(st.sampled_from(ones))
            shape = v.shape[:ax] + (draw(st.integers(2, 3)),) + v.shape[ax + 1:]
            return b.emit("expand", a, shape=shape, axis=ax, keepdims=True)
        if v.ndim == 0 and draw(st.booleans()):  # a full reduction's scalar
            shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
            return b.emit("expand", a, shape=shape, axis=None, keepdims=False)
        ax = draw(st.integers(0, v.ndim))
        shape = v.shape[:ax] + (draw(st.integers(1, 3)),) + v.shape[ax:]
        return b.emit("expand", a, shape=shape, axis=ax, keepdims=False)
    if v.ndim == 0:
        return b.emit("scatter", a, shape=(3,), index=draw(st.integers(-3, 2)))
    # rows of a added into a first axis at least as long, repeated rows accumulating
    n = v.shape[0] + draw(st.integers(0, 2))
    idx = draw(hnp.arrays(np.intp, (v.shape[0],), elements=st.integers(-n, n - 1)))
    return b.emit("scatter", a, shape=(n,) + v.shape[1:], index=idx)


# Each kind's share of the steps (the first is where Hypothesis shrinks to).
KINDS = ["binary", "unary", "unary", "reduce", "reduce", "shape", "shape", "matmul", "join",
         "adjoint"]
STEPS = {"binary": _step_binary, "unary": _step_unary, "reduce": _step_reduce,
         "shape": _step_shape, "matmul": _step_matmul, "join": _step_join,
         "adjoint": _step_adjoint}


@st.composite
def programs(draw, max_inputs: int = 3, max_steps: int = 8, max_side: int = 4) -> Program:
    """Random DAG programs over 1..max_inputs float64 inputs of broadcast-compatible shapes."""
    k = draw(st.integers(1, max_inputs))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=k, max_dims=3, max_side=max_side))
    inputs = [draw(hnp.arrays(np.float64, s, elements=st.floats(-2, 2, allow_subnormal=False)))
              for s in shapes.input_shapes]
    b = _Builder(inputs)
    for _ in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(KINDS))
        mark = b.mark()
        a = _node(draw, b) if draw(st.booleans()) else len(b.vals) - 1  # chains or any node
        try:
            STEPS[kind](draw, b, a)
            keep = b.bounded_since(mark)
        except (ValueError, IndexError):  # a step NumPy refuses: drop it like an oversized one
            keep = False
        if not keep:
            b.rollback(mark)
    if not b.instrs:
        b.emit("mul", 0, Const(1.5))
    # fold every unused node into the output, so every node's gradient is checked
    last = len(b.vals) - 1
    for n in range(len(b.vals) - 1):
        if n not in b.used:
            w = Const(draw(hnp.arrays(np.float64, b.vals[n].shape, elements=st.floats(-1, 1))))
            last = b.emit("add", last, b.emit("sum", b.emit("mul", n, w), axis=None,
                                              keepdims=False))
    upstream = draw(hnp.arrays(np.float64, b.vals[last].shape, elements=st.floats(-1, 1)))
    directions = [draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-1, 1))) for x in inputs]
    return Program(inputs, b.instrs, upstream, directions)


# ---------------------------------------------------------------- the check
def _loss(prog, inputs, deltas=None):
    return anp.sum(run(prog, inputs, NP, deltas)[-1] * prog.upstream)


def check_program(prog: Program) -> None:
    """Assert that tinygrad_lc's values and gradients match autograd and central differences."""
    xs = [tg.Tensor(x, requires_grad=True) for x in prog.inputs]
    with engine.kink_log() as log:
        nodes = run(prog, xs, TG)
    ref = run(prog, prog.inputs, NP)
    for j, (t, r) in enumerate(zip(nodes, ref)):
        assert t.shape == np.shape(r), f"n{j}: shape {t.shape} != {np.shape(r)}\n{prog}"
        np.testing.assert_allclose(t.data, r, rtol=1e-12, atol=1e-12, err_msg=f"value of n{j}")
    for name, _, state in log:  # the construction promises no input sits on a kink
        assert name == "max" or state.all(), f"{name}: an input sits on its kink\n{prog}"
    nodes[-1].backward(prog.upstream)

    # autograd: gradients of the inputs and (through zero deltas) of every intermediate node
    deltas = [np.zeros_like(r) for r in ref[len(xs):]]
    k = len(xs)
    want = autograd.grad(lambda z: _loss(prog, z[:k], z[k:]))(list(prog.inputs) + deltas)
    grads = [t.grad for t in nodes]
    for j, (t, g, w) in enumerate(zip(nodes, grads, want)):
        assert g is not None, f"n{j} holds no gradient after backward\n{prog}"
        assert g.shape == t.shape and g.dtype == t.dtype, f"n{j}: grad shape/dtype\n{prog}"
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11,
                                   err_msg=f"gradient of n{j} vs autograd\n{prog}")
    for (i, g), (j, h) in itertools.combinations(enumerate(grads), 2):
        assert not np.shares_memory(g, h), f"grads of n{i} and n{j} alias\n{prog}"
    for j, (g, t) in enumerate(zip(grads, nodes)):
        assert not np.shares_memory(g, t.data), f"grad of n{j} aliases data\n{prog}"
    first = [g.copy() for g in grads[:k]]
    nodes[-1].backward(prog.upstream)  # a second call accumulates into the leaves
    for i, (x, g) in enumerate(zip(xs, first)):
        np.testing.assert_allclose(x.grad, 2 * g, rtol=1e-12, atol=1e-300,
                                   err_msg=f"x{i}: second backward does not accumulate\n{prog}")
    fresh = run(prog, [tg.Tensor(x, requires_grad=True) for x in prog.inputs], TG)
    fresh[-1].backward(prog.upstream, retain_grads=False)  # leaves only, same values
    for j, t in enumerate(fresh):
        if j < k:
            np.testing.assert_array_equal(t.grad, first[j], err_msg=f"x{j}: retain_grads=False")
        else:
            assert t.grad is None, f"n{j} kept a gradient with retain_grads=False\n{prog}"

    # central differences, refusing any step that crosses a kink
    base: list = []
    run(prog, prog.inputs, NP, kinks=base)
    for i, x in enumerate(prog.inputs):
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            f = []
            for sgn in (1, -1):
                xp = [y.copy() for y in prog.inputs]
                xp[i][idx] += sgn * H
                kinks: list = []
                f.append(np.sum(run(prog, xp, NP, kinks=kinks)[-1] * prog.upstream))
                for k0, k1 in zip(base, kinks):
                    assert np.array_equal(k0, k1), f"x{i}{list(idx)}: a step crossed a kink\n{prog}"
            num[idx] = (f[0] - f[1]) / (2 * H)
        scale = 1.0 + np.abs(num).max()
        np.testing.assert_allclose(first[i], num, rtol=1e-5, atol=1e-6 * scale,
                                   err_msg=f"gradient of x{i} vs central differences\n{prog}")
    check_second_order(prog)
    STATS["graphs"] += 1
    STATS["ops"] += len(prog.instrs)
    STATS.update(f"op:{ins.op}" for ins in prog.instrs)


def _first_dot(prog: Program, arrays) -> float:
    """sum_i <grad_i, w_i> by tinygrad_lc's plain backward (the function differenced)."""
    xs = [tg.Tensor(x, requires_grad=True) for x in arrays]
    run(prog, xs, TG)[-1].backward(prog.upstream)
    return float(sum(np.sum(x.grad * w) for x, w in zip(xs, prog.ws())))


def check_second_order(prog: Program) -> None:
    """Assert that d/dx sum_i <grad_i, w_i>, recorded twice, matches autograd and differences.

    Central differences step each input entry by +-H as the first-order check did, which
    already made sure no such step crosses a kink.
    """
    xs = [tg.Tensor(x, requires_grad=True) for x in prog.inputs]
    ws = prog.ws()
    gs = tg.grad(run(prog, xs, TG)[-1], xs, grad_outputs=prog.upstream, create_graph=True)
    total = tg.Tensor(0.0)
    for g, w in zip(gs, ws):
        total = total + (g * w).sum()
    hs = tg.grad(total, xs, allow_unused=True) if total.requires_grad else \
        [tg.Tensor(np.zeros_like(x)) for x in prog.inputs]
    first = autograd.grad(lambda z: _loss(prog, z))
    dot = lambda z: sum(anp.sum(g * w) for g, w in zip(first(z), ws))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Output seems independent of input": a flat program
        want = autograd.grad(dot)(list(prog.inputs))
    for i, (x, h, w) in enumerate(zip(prog.inputs, hs, want)):
        assert h.shape == x.shape and h.dtype == x.dtype, f"x{i}: second-order shape\n{prog}"
        scale = 1.0 + np.abs(w).max()
        np.testing.assert_allclose(h.data, w, rtol=1e-9, atol=1e-11 * scale,
                                   err_msg=f"second order, x{i}, vs autograd\n{prog}")
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            f = []
            for sgn in (1, -1):
                xp = [y.copy() for y in prog.inputs]
                xp[i][idx] += sgn * H
                f.append(_first_dot(prog, xp))
            num[idx] = (f[0] - f[1]) / (2 * H)
        scale = 1.0 + np.abs(num).max()
        np.testing.assert_allclose(h.data, num, rtol=1e-5, atol=1e-6 * scale,
                                   err_msg=f"second order, x{i}, vs central differences\n{prog}")
    STATS["second order"] += 1


# ---------------------------------------------------------------- command line (make fuzz)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz_graphs",
        description="Check random expression graphs against HIPS autograd and central differences.",
    )
    parser.add_argument("--examples", type=int, default=1000, help="graphs to try (default 1000)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (reproducible)")
    parser.add_argument("--max-steps", type=int, default=8, help="op groups per graph")
    args = parser.parse_args(argv)
    STATS.clear()
    test = given(programs(max_steps=args.max_steps))(check_program)
    test = settings(max_examples=args.examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))(test)
    if args.seed is not None:
        test = seed(args.seed)(test)
    start = time.perf_counter()
    failed = False
    try:
        test()
    except Exception:  # Hypothesis has printed the shrunk failing program
        failed = True
        import traceback

        traceback.print_exc()
    ops = sorted(((k[3:], v) for k, v in STATS.items() if k.startswith("op:")),
                 key=lambda kv: -kv[1])
    print(f"fuzz: {STATS['graphs']} graphs, {STATS['ops']} ops checked against HIPS autograd "
          f"and central differences, {STATS['second order']} of them to second order, in "
          f"{time.perf_counter() - start:.1f} s{'; FAILED' if failed else ''}")
    print("ops: " + ", ".join(f"{k} {v}" for k, v in ops))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
