"""Property tests of every primitive in ``tinygrad_lc.core.ops.OPS``, from a table keyed by op.

For each op, Hypothesis draws a use of it (shapes including 0-d, size-1 and broadcast pairs;
constants on either side; every calling form) and a random upstream gradient ``g``. The engine's
vector-Jacobian product must match (a) float64 central differences of ``sum(g * f(x))`` and
(b) HIPS autograd's VJP of the same math. Inputs stay clear of kinks and ties by construction
(gaps), so the tolerances stay tight.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import make_vjp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core.indexing import prepare_index
from tinygrad_lc.core.ops import OPS, kept_shape
from tinygrad_lc.core.tensor import apply_op

H = 1e-6  # central-difference step on O(1) values: truncation ~1e-12, round-off ~1e-10
FD_TOL = {"rtol": 1e-6, "atol": 1e-8}
AG_TOL = {"rtol": 1e-10, "atol": 1e-12}  # atol only for entries that cancel to ~0


@dataclasses.dataclass
class Case:
    """One drawn use of an op: the engine call, the same math in autograd.numpy, the inputs."""

    label: str
    run: Callable = dataclasses.field(repr=False)  # Tensors -> Tensor; the op under test is last
    ref: Callable = dataclasses.field(repr=False)  # the same on autograd.numpy arrays
    inputs: tuple  # float64 arrays, one per differentiable input
    consts: tuple = ()  # array operands baked into run/ref (they take part in dtype promotion)


# ---------------------------------------------------------------- element strategies (gaps)
def floats(lo: float = -2.0, hi: float = 2.0) -> st.SearchStrategy:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


ANY = floats()
AWAY = st.one_of(floats(-2.0, -0.1), floats(0.1, 2.0))  # |x| >= 0.1: clear of abs/relu's kink
POS = floats(0.1, 3.0)  # log, sqrt, fractional powers: positive and clear of 0
DIVISOR = st.one_of(floats(-2.0, -0.5), floats(0.5, 2.0))  # |b| >= 0.5
# maximum: a on the grid 0.3 i, b on 0.3 j + 0.15, jitter 0.025 each, so |a - b| >= 0.1
GRID_A = st.builds(lambda i, u: 0.3 * i + u, st.integers(-6, 6), floats(-0.025, 0.025))
GRID_B = st.builds(lambda j, v: 0.3 * j + 0.15 + v, st.integers(-6, 6), floats(-0.025, 0.025))

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def arrays(shape, elements=ANY) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def distinct(draw, shape) -> np.ndarray:
    """Values at least 0.1 apart (max has no ties): distinct multiples of 0.3, jitter < 0.1."""
    ints = draw(hnp.arrays(np.int64, shape, elements=st.integers(-20, 20), unique=True))
    jitter = draw(arrays(shape, floats(-0.09, 0.09)))
    return 0.3 * ints + jitter


# ---------------------------------------------------------------- cases per op family
@st.composite
def binary(draw, name, fn, ref=None, ea=ANY, eb=ANY) -> Case:
    """``fn(a, b)`` with Tensors or constants (float, ndarray) on either side, broadcasting."""
    ref = ref or fn
    sa, sb = draw(PAIRS).input_shapes
    a, b = draw(arrays(sa, ea)), draw(arrays(sb, eb))
    form = draw(st.sampled_from(["T,T", "T,float", "float,T", "T,array", "array,T"]))
    if form == "T,T":
        return Case(f"{name}(T{sa}, T{sb})", fn, ref, (a, b))
    if form == "T,float":
        c = draw(eb)
        return Case(f"{name}(T{sa}, {c!r})", lambda t: fn(t, c), lambda x: ref(x, c), (a,))
    if form == "float,T":
        c = draw(ea)
        return Case(f"{name}({c!r}, T{sb})", lambda t: fn(c, t), lambda x: ref(c, x), (b,))
    if form == "T,array":
        return Case(f"{name}(T{sa}, arr{sb})", lambda t: fn(t, b), lambda x: ref(x, b), (a,), (b,))
    return Case(f"{name}(arr{sa}, T{sb})", lambda t: fn(a, t), lambda x: ref(a, x), (b,), (a,))


@st.composite
def maximum_case(draw) -> Case:
    if draw(st.booleans()):
        return draw(binary("maximum", tg.maximum, anp.maximum, GRID_A, GRID_B))
    x = draw(arrays(draw(SHAPES), AWAY))  # the lecture's form: maximum(0, margins)
    if draw(st.booleans()):
        return Case("maximum(0, T)", lambda t: tg.maximum(0, t), lambda v: anp.maximum(0, v), (x,))
    return Case("maximum(T, 0.0)", lambda t: tg.maximum(t, 0.0),
                lambda v: anp.maximum(v, 0.0), (x,))


@st.composite
def unary(draw, name, forms, elements=ANY) -> Case:
    """One of several spellings (method, module function, operator) of an elementwise op."""
    label, run, ref = draw(st.sampled_from(forms))
    return Case(f"{label} on {name}", run, ref, (draw(arrays(draw(SHAPES), elements)),))


@st.composite
def pow_case(draw) -> Case:
    p = draw(st.sampled_from([1, 2, 3, 2.0, 0.5, 1.5, -0.5, -1, -2, -3.0, 2.5]))
    # integer exponents take negative bases too (clear of 0 when negative); fractional ones not
    integer = float(p).is_integer()
    x = draw(arrays(draw(SHAPES), (ANY if p > 0 else AWAY) if integer else POS))
    return Case(f"T ** {p!r}", lambda t: t**p, lambda v: v**p, (x,))


@st.composite
def rpow_case(draw) -> Case:
    base = draw(st.sampled_from([0.5, 2, 2.0, np.e, 10.0]))
    x = draw(arrays(draw(SHAPES)))
    return Case(f"{base!r} ** T", lambda t: base**t, lambda v: base**v, (x,))


@st.composite
def axes(draw, ndim: int):
    """None, an int (negative too) or a tuple of distinct axes, as NumPy takes them."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    return draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1), hnp.valid_tuple_axes(ndim)))


def _lse(x, axis=None, keepdims=False):
    return anp.log(anp.sum(anp.exp(x), axis=axis, keepdims=keepdims))


REDUCTIONS = {
    "sum": anp.sum,
    "mean": anp.mean,
    "max": anp.max,
    "logsumexp": _lse,
}


@st.composite
def reduction(draw, name) -> Case:
    shape = draw(SHAPES)
    x = draw(distinct(shape)) if name == "max" else draw(arrays(shape))
    axis, keepdims = draw(axes(len(shape))), draw(st.booleans())
    ref = REDUCTIONS[name]
    if axis is None and not keepdims and draw(st.booleans()):
        return Case(f"T{shape}.{name}()", lambda t: getattr(t, name)(), ref, (x,))
    return Case(
        f"T{shape}.{name}(axis={axis}, keepdims={keepdims})",
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
        lambda v: ref(v, axis=axis, keepdims=keepdims),
        (x,),
    )


def _ref_log_softmax(x, axis):
    return x - anp.log(anp.sum(anp.exp(x), axis=axis, keepdims=True))


def _ref_softmax(x, axis):
    e = anp.exp(x)
    return e / anp.sum(e, axis=axis, keepdims=True)


@st.composite
def normalizer(draw, name) -> Case:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    x = draw(arrays(shape))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    ref = _ref_log_softmax if name == "log_softmax" else _ref_softmax
    if axis == -1 and draw(st.booleans()):
        return Case(f"T{shape}.{name}()", lambda t: getattr(t, name)(), lambda v: ref(v, -1), (x,))
    return Case(
        f"T{shape}.{name}(axis={axis})",
        lambda t: getattr(t, name)(axis=axis),
        lambda v: ref(v, axis),
        (x,),
    )


@st.composite
def matmul_case(draw) -> Case:
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    sa, sb = draw(st.sampled_from([((k,), (k,)), ((k,), (k, m)), ((n, k), (k,)), ((n, k), (k, m))]))
    a, b = draw(arrays(sa)), draw(arrays(sb))
    form = draw(st.sampled_from(["T @ T", "tg.matmul(T, T)", "T @ arr", "arr @ T"]))
    mm = operator.matmul
    if form == "T @ T":
        return Case(f"T{sa} @ T{sb}", mm, mm, (a, b))
    if form == "tg.matmul(T, T)":
        return Case(f"tg.matmul(T{sa}, T{sb})", tg.matmul, mm, (a, b))
    if form == "T @ arr":
        return Case(f"T{sa} @ arr{sb}", lambda t: t @ b, lambda v: v @ b, (a,), (b,))
    return Case(f"arr{sa} @ T{sb}", lambda t: a @ t, lambda v: a @ v, (b,), (a,))


@st.composite
def reshape_case(draw) -> Case:
    shape = draw(SHAPES)
    x = draw(arrays(shape))
    size = x.size
    new = draw(st.sampled_from(
        [(size,), (-1,), shape[::-1], (1, *shape), (*shape, 1)] + ([()] if size == 1 else [])
    ))
    if draw(st.booleans()):
        return Case(f"T{shape}.reshape({new})", lambda t: t.reshape(new),
                    lambda v: anp.reshape(v, new), (x,))
    return Case(f"T{shape}.reshape(*{new})", lambda t: t.reshape(*new),
                lambda v: anp.reshape(v, new), (x,))


@st.composite
def transpose_case(draw) -> Case:
    shape = draw(SHAPES)
    x = draw(arrays(shape))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    perm = tuple(a - len(shape) if draw(st.booleans()) else a for a in perm)  # negative too
    form = draw(st.sampled_from(["T", "transpose()", "transpose(axes)", "transpose(*axes)"]))
    if form == "T":
        return Case(f"T{shape}.T", lambda t: t.T, anp.transpose, (x,))
    if form == "transpose()":
        return Case(f"T{shape}.transpose()", lambda t: t.transpose(), anp.transpose, (x,))
    run = (lambda t: t.transpose(perm)) if form == "transpose(axes)" else (
        lambda t: t.transpose(*perm))
    # autograd's transpose VJP mishandles negative axes (argsort of the raw axes): pass it
    # the same permutation with non-negative axes
    plain = tuple(a % len(shape) for a in perm)
    return Case(f"T{shape}.{form} with {perm}", run, lambda v: anp.transpose(v, plain), (x,))


@st.composite
def getitem_case(draw) -> Case:
    """Every index kind the API names; repeated positions must accumulate."""
    kind = draw(st.sampled_from(
        ["basic", "int arrays", "list", "scores[arange(N), y]", "mask", "row mask", "mixed",
         "Tensor index"]
    ))
    if kind == "basic":  # ints, slices (negative steps too), None, Ellipsis
        shape = draw(SHAPES)
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True))
    elif kind == "int arrays":  # one integer array per axis, repeats likely
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        index = draw(hnp.integer_array_indices(
            shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
    elif kind == "list":  # like x[[0, 0, 1]]
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        index = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5))
    elif kind == "scores[arange(N), y]":  # the loss's pick of correct-class scores
        n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        shape = (n, c)
        y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
        index = (np.arange(n), y)
    elif kind == "mask":
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        index = draw(hnp.arrays(np.bool_, shape))
    elif kind == "row mask":
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        index = draw(hnp.arrays(np.bool_, shape[:1]))
    elif kind == "mixed":  # an integer array beside a slice or Ellipsis
        shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, max_side=3))
        after_slice = draw(st.booleans())
        side = shape[1] if after_slice else shape[-1]
        picks = draw(hnp.arrays(np.int64, draw(st.integers(1, 4)),
                                elements=st.integers(-side, side - 1)))
        index = (slice(None), picks) if after_slice else (Ellipsis, picks)
    else:  # an integer Tensor as the index, as labels often are
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        picks = draw(hnp.arrays(np.int64, draw(st.integers(1, 4)),
                                elements=st.integers(0, shape[0] - 1)))
        x = draw(arrays(shape))
        return Case(f"T{shape}[Tensor({picks.tolist()})]",
                    lambda t: t[Tensor(picks, dtype=np.int64)], lambda v: v[picks], (x,))
    x = draw(arrays(shape))
    return Case(f"{kind}: T{shape}[{index!r}]", lambda t: t[index], lambda v: v[index], (x,))


@st.composite
def join_case(draw, name) -> Case:
    """concatenate/stack of 1-3 pieces; one piece may be a constant ndarray."""
    k = draw(st.integers(1, 3))
    if name == "concatenate":
        ndim = draw(st.integers(1, 3))
        base = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, max_side=3))
        axis = draw(st.integers(-ndim, ndim - 1))
        shapes = [base[: axis % ndim] + (draw(st.integers(1, 3)),) + base[axis % ndim + 1:]
                  for _ in range(k)]
        fn_tg, fn_ref = tg.concatenate, anp.concatenate
    else:
        base = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
        axis = draw(st.integers(-(len(base) + 1), len(base)))
        shapes = [base] * k
        fn_tg, fn_ref = tg.stack, anp.stack
    pieces = [draw(arrays(s)) for s in shapes]
    const = draw(st.integers(0, k - 1)) if k > 1 and draw(st.booleans()) else None
    inputs = tuple(p for i, p in enumerate(pieces) if i != const)
    consts = () if const is None else (pieces[const],)

    def assemble(xs):
        xs = list(xs)
        if const is not None:
            xs.insert(const, pieces[const])
        return xs

    label = f"{name}({shapes}, axis={axis}, constant piece {const})"
    return Case(label, lambda *ts: fn_tg(assemble(ts), axis=axis),
                lambda *vs: fn_ref(assemble(vs), axis=axis), inputs, consts)


# ---------------------------------------------------------------- ops of the backward pass
# expand, scatter and cast appear in recorded gradients (create_graph=True); the user API
# never builds them, so the cases call the engine's apply_op directly.
@st.composite
def expand_case(draw) -> Case:
    """The reduced array put back over the reduced axes (the VJP of sum)."""
    shape = draw(SHAPES)
    axis = None if not shape else draw(st.one_of(
        st.none(), st.integers(0, len(shape) - 1), hnp.valid_tuple_axes(len(shape))))
    keepdims = draw(st.booleans())
    small = np.sum(np.empty(shape), axis=axis, keepdims=keepdims).shape
    kept = kept_shape(small, len(shape), axis) if not keepdims else small
    kw = {"shape": shape, "axis": axis, "keepdims": keepdims}
    return Case(f"expand(T{small}, {kw})", lambda t: apply_op("expand", (t,), kw),
                lambda v: anp.reshape(v, kept) + np.zeros(shape), (draw(arrays(small)),))


@st.composite
def scatter_case(draw) -> Case:
    """Values added into zeros at an index, repeats accumulating (the VJP of getitem)."""
    kind = draw(st.sampled_from(["basic", "int arrays", "list", "mask", "pair"]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    if kind == "basic":
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True))
    elif kind == "int arrays":
        index = draw(hnp.integer_array_indices(
            shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
    elif kind == "list":
        index = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5))
    elif kind == "mask":
        index = draw(hnp.arrays(np.bool_, shape))
    else:  # the loss's pick scores[arange(N), y]
        shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=4))
        y = draw(hnp.arrays(np.int64, shape[:1], elements=st.integers(0, shape[1] - 1)))
        index = (np.arange(shape[0]), y)
    index, unique = prepare_index(index, shape)
    picked = np.arange(int(np.prod(shape))).reshape(shape)[index]  # flat position of each
    spread = np.zeros((int(np.prod(shape)), picked.size))
    spread[np.ravel(picked), np.arange(picked.size)] = 1.0
    kw = {"shape": shape, "index": index, "unique": unique}
    return Case(f"scatter({kind}, {shape}, unique={unique})",
                lambda t: apply_op("scatter", (t,), kw),
                lambda v: anp.reshape(anp.dot(spread, anp.ravel(v)), shape),
                (draw(arrays(picked.shape)),))


@st.composite
def cast_case(draw) -> Case:
    """A conversion to float64 (a float64 constant makes it the expected promotion)."""
    kw = {"dtype": np.dtype(np.float64)}
    return Case("cast(T, float64)", lambda t: apply_op("cast", (t,), kw), lambda v: v,
                (draw(arrays(draw(SHAPES))),), (np.zeros(1),))


def _forms(name, method, module=None, ref=None):
    forms = [(f"T.{method}()", lambda t: getattr(t, method)(), ref)]
    if module is not None:
        forms.append((f"tg.{method}(T)", module, ref))
    return forms


# The table: one strategy per op name. test_table_covers_every_op keeps it equal to OPS.
CASES: dict[str, st.SearchStrategy] = {
    "add": binary("add", operator.add),
    "sub": binary("sub", operator.sub),
    "mul": binary("mul", operator.mul),
    "div": binary("div", operator.truediv, eb=DIVISOR),
    "neg": unary("neg", [("-T", operator.neg, operator.neg)]),
    "pow": pow_case(),
    "rpow": rpow_case(),
    "exp": unary("exp", _forms("exp", "exp", tg.exp, anp.exp)),
    "log": unary("log", _forms("log", "log", tg.log, anp.log), POS),
    "sqrt": unary("sqrt", _forms("sqrt", "sqrt", ref=anp.sqrt), POS),
    "abs": unary("abs", _forms("abs", "abs", ref=anp.abs), AWAY),
    "relu": unary("relu", _forms("relu", "relu", ref=lambda v: anp.maximum(v, 0.0)), AWAY),
    "maximum": maximum_case(),
    "sum": reduction("sum"),
    "mean": reduction("mean"),
    "max": reduction("max"),
    "logsumexp": reduction("logsumexp"),
    "log_softmax": normalizer("log_softmax"),
    "softmax": normalizer("softmax"),
    "matmul": matmul_case(),
    "reshape": reshape_case(),
    "transpose": transpose_case(),
    "getitem": getitem_case(),
    "concatenate": join_case("concatenate"),
    "stack": join_case("stack"),
    "expand": expand_case(),
    "scatter": scatter_case(),
    "cast": cast_case(),
}


# ---------------------------------------------------------------- the checks
def central_differences(run: Callable, inputs: tuple, i: int, g: np.ndarray) -> np.ndarray:
    """d/dx_i of sum(g * run(inputs)) in float64, one coordinate at a time."""
    grad = np.zeros_like(inputs[i])
    for k in np.ndindex(inputs[i].shape):
        plus = [np.array(x) for x in inputs]
        minus = [np.array(x) for x in inputs]
        plus[i][k] += H
        minus[i][k] -= H
        with tg.no_grad():
            fp = run(*map(Tensor, plus)).data
            fm = run(*map(Tensor, minus)).data
        grad[k] = np.sum(g * (fp - fm)) / (2 * H)  # differences first: less round-off
    return grad


def check_case(name: str, case: Case, seed: int) -> None:
    """Run ``case`` through the engine and compare its VJPs with both oracles."""
    ts = [Tensor(x, requires_grad=True) for x in case.inputs]
    out = case.run(*ts)
    assert out.op == name, f"{case.label} built op {out.op!r}, not {name!r}"
    g = np.asarray(np.random.default_rng(seed).standard_normal(out.shape))
    out.backward(g)
    for i, (t, x) in enumerate(zip(ts, case.inputs)):
        assert t.grad is not None and t.grad.shape == x.shape and t.grad.dtype == np.float64
        vjp, ans = make_vjp(case.ref, i)(*case.inputs)
        np.testing.assert_allclose(out.data, ans, **AG_TOL, err_msg=f"{case.label}: forward")
        np.testing.assert_allclose(t.grad, vjp(g), **AG_TOL,
                                   err_msg=f"{case.label}: input {i} vs autograd")
        np.testing.assert_allclose(t.grad, central_differences(case.run, case.inputs, i, g),
                                   **FD_TOL, err_msg=f"{case.label}: input {i} vs central diffs")


OP_NAMES = sorted(CASES)


def test_table_covers_every_op():
    assert set(CASES) == set(OPS)


@pytest.mark.parametrize("name", OP_NAMES)
@given(data=st.data())
def test_vjp_matches_central_differences_and_autograd(name, data):
    case = data.draw(CASES[name], label="case")
    check_case(name, case, data.draw(st.integers(0, 2**32 - 1), label="seed"))


@pytest.mark.parametrize("name", OP_NAMES)
@given(data=st.data())
def test_dtypes_are_kept_and_promoted(name, data):
    """float32 stays float32 end to end; mixed inputs promote forward; grads keep their input's
    dtype. Values are compared with autograd on the same (rounded) inputs in float64."""
    case = data.draw(CASES[name], label="case")
    kinds = st.sampled_from([np.float32, np.float64])
    dtypes = data.draw(st.lists(kinds, min_size=len(case.inputs), max_size=len(case.inputs)))
    xs = tuple(x.astype(dt) for x, dt in zip(case.inputs, dtypes))
    ts = [Tensor(x, requires_grad=True) for x in xs]
    out = case.run(*ts)
    assert out.dtype == np.result_type(*xs, *case.consts), case.label
    g = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(out.shape)
    g = np.asarray(g).astype(out.dtype)
    out.backward(g)
    wide = tuple(x.astype(np.float64) for x in xs)
    for i, (t, x) in enumerate(zip(ts, xs)):
        assert t.grad.dtype == x.dtype and t.grad.shape == x.shape, case.label
        expected = make_vjp(case.ref, i)(*wide)[0](g.astype(np.float64))
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(t.grad, expected, rtol=1e-4, atol=1e-5 * scale,
                                   err_msg=case.label)


def _broken(op):
    """The same op with every VJP scaled by 1.5: what a wrong derivative looks like."""
    vjps = tuple((lambda *args, v=v, **kw: 1.5 * v(*args, **kw)) for v in op.vjps)
    return dataclasses.replace(op, vjps=vjps)


@pytest.mark.parametrize("name", OP_NAMES)
def test_a_wrong_vjp_is_caught(name, monkeypatch):
    """The property test can fail: with a broken VJP injected, Hypothesis finds a failing case."""
    monkeypatch.setitem(OPS, name, _broken(OPS[name]))

    @settings(max_examples=200, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(data=st.data())
    def run(data):
        check_case(name, data.draw(CASES[name]), data.draw(st.integers(0, 2**32 - 1)))

    with pytest.raises(AssertionError):
        run()


def test_kink_ops_are_exactly_the_nondifferentiable_ones():
    assert {n for n, o in OPS.items() if o.kink is not None} == {"abs", "relu", "maximum", "max"}
    x = np.array([-0.5, 0.0, 0.5])
    for name in ("abs", "relu"):
        np.testing.assert_array_equal(OPS[name].kink(x), [-1, 0, 1])
    np.testing.assert_array_equal(OPS["maximum"].kink(x, np.zeros(3)), [-1, 0, 1])
    np.testing.assert_array_equal(OPS["max"].kink(np.array([1.0, 3.0, 3.0])), [0, 1, 1])


# ---------------------------------------------------------------- domains
FRACTIONAL = [0.5, -0.5, 1.5, 2.5, 1 / 3, np.float32(0.5), np.array(1.5)]


@given(x=arrays(SHAPES), p=st.sampled_from(FRACTIONAL))
def test_fractional_powers_refuse_negative_bases_like_sqrt(x, p):
    negative = int((x < 0).sum())
    if negative:
        with pytest.raises(ValueError, match=rf"pow: input has {negative} negative entr(y|ies) "
                                             r"\(min .*\); a power with the non-integer "
                                             "exponent .* is defined for x >= 0 only"):
            Tensor(x, requires_grad=True) ** p
        with pytest.raises(ValueError, match="sqrt: input has"):
            Tensor(x).sqrt()  # the same rule as sqrt
    else:
        with np.errstate(divide="ignore", over="ignore"):  # 0 ** -0.5 is inf, as 1 / 0
            np.testing.assert_array_equal((Tensor(x) ** p).data, x ** float(p))


@given(x=arrays(SHAPES), p=st.sampled_from([2, 3, -1, 2.0, -2.0, np.int64(3)]))
def test_integer_powers_of_negative_bases_are_real(x, p):
    with np.errstate(divide="ignore", over="ignore"):
        np.testing.assert_array_equal((Tensor(x) ** p).data, x ** float(p))


def test_a_nan_exponent_is_refused():
    with pytest.raises(ValueError, match="pow: the exponent is NaN"):
        Tensor([1.0]) ** float("nan")
