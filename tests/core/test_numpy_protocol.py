"""NumPy's functions and ufuncs on tensors (``core/numpy_protocol.py``) and the comparisons.

Every entry of the table is a Tensor op under a NumPy name, so the property tests ask for
equality, not closeness: for each supported NumPy function, Hypothesis draws inputs (float32
and float64, constants on either side) and the NumPy call must give the very values, dtype
and gradients of the tinygrad_lc spelling. The rest: the refusals and what they advise, the
functions without gradient, tensors without grad, comparisons, and tensors as dict keys.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core.numpy_protocol import NO_GRADIENT, TABLE

DTYPES = st.sampled_from([np.float32, np.float64])


# ---------------------------------------------------------------- drawing inputs
def values(dtype, shape, lo=-3.0, hi=3.0, gap=0.0, unique=False):
    """Arrays of ``shape`` with entries in [lo, hi] and |x| >= gap (off the kinks at 0)."""
    elements = st.floats(max(lo, gap) if gap else lo, hi, width=32)
    arr = hnp.arrays(dtype, shape, elements=elements, unique=unique)
    if not gap:
        return arr
    signs = hnp.arrays(np.int8, shape, elements=st.sampled_from([-1, 1]))
    return st.tuples(arr, signs).map(lambda p: (p[0] * p[1]).astype(dtype))


SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
MATRIX = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4)


@dataclasses.dataclass
class Case:
    """One supported NumPy call: how NumPy spells it, how tinygrad_lc does, what it takes.

    ``draw(data, dtype)`` returns ``(arrays, constants)``: the arrays become leaf tensors that
    require grad (one set per spelling); the constants are passed as they are.
    """

    numpy: Callable  # the entry of TABLE under test
    np_call: Callable  # (*tensors, *constants) -> Tensor, through NumPy
    tg_call: Callable  # the same with the Tensor API
    draw: Callable


def unary(numpy, method, **bounds):
    def draw(data, dtype):
        return [data.draw(values(dtype, data.draw(SHAPES), **bounds))], []

    return Case(numpy, numpy, method, draw)


def binary(numpy, op, form, **bounds):
    """``form``: "tt" two tensors, "ta"/"at" a tensor and a constant array, "ts"/"st" a
    number on the right or left."""

    def draw(data, dtype):
        shape = data.draw(SHAPES)
        a = data.draw(values(dtype, shape))
        b = data.draw(values(data.draw(DTYPES), shape, **bounds))
        if form == "tt":
            return [a, b.astype(dtype)], []
        const = b if form in ("ta", "at") else float(b.reshape(-1)[0])
        return [a], [const]

    if form in ("tt", "ta", "ts"):
        return Case(numpy, lambda t, *c: numpy(t, *c), lambda t, *c: op(t, *c), draw)
    return Case(numpy, lambda t, c: numpy(c, t), lambda t, c: op(c, t), draw)


def reduction(numpy, method):
    def draw(data, dtype):
        shape = data.draw(SHAPES)
        axis = data.draw(st.sampled_from([None, 0, -1, tuple(range(len(shape)))]))
        keepdims = data.draw(st.booleans())
        return [data.draw(values(dtype, shape, unique=True))], [axis, keepdims]

    return Case(numpy, lambda t, axis, kd: numpy(t, axis=axis, keepdims=kd),
                lambda t, axis, kd: method(t, axis, kd), draw)


def products(numpy):
    def draw(data, dtype):
        n, k, m = data.draw(st.tuples(*[st.integers(1, 4)] * 3))
        left = data.draw(st.sampled_from([(n, k), (k,)]))
        right = data.draw(st.sampled_from([(k, m), (k,)]))
        return [data.draw(values(dtype, left)), data.draw(values(dtype, right))], []

    return Case(numpy, numpy, lambda a, b: a @ b, draw)


def reshaped(numpy, np_args, new_shape):
    """A shape function: NumPy's call with ``np_args(shape)``, tinygrad_lc's t.reshape."""

    def draw(data, dtype):
        shape = data.draw(SHAPES)
        return [data.draw(values(dtype, shape))], [data.draw(np_args(shape))]

    return Case(numpy, lambda t, arg: numpy(t, arg),
                lambda t, arg: t.reshape(new_shape(t.shape, arg)), draw)


def joined(numpy, tg_fn):
    def draw(data, dtype):
        shape = data.draw(SHAPES)
        axis = data.draw(st.integers(0, len(shape) - 1))
        return [data.draw(values(dtype, shape)), data.draw(values(dtype, shape))], [axis]

    return Case(numpy, lambda a, b, axis: numpy([a, b], axis=axis),
                lambda a, b, axis: tg_fn([a, b], axis=axis), draw)


def power_draw(data, dtype):
    p = data.draw(st.sampled_from([2, 3, 0.5, -1.0, 1.5]))
    positive = p != int(p)
    return [data.draw(values(dtype, data.draw(SHAPES), lo=0.25 if positive else -3.0,
                             gap=0.0 if positive else 0.25))], [p]


def transpose_draw(data, dtype):
    shape = data.draw(SHAPES)
    axes = data.draw(st.one_of(st.none(), st.permutations(range(len(shape))).map(tuple)))
    return [data.draw(values(dtype, shape))], [axes]


CASES = {
    "exp": unary(np.exp, Tensor.exp),
    "log": unary(np.log, Tensor.log, lo=0.125),
    "sqrt": unary(np.sqrt, Tensor.sqrt, lo=0.125),
    "abs": unary(np.abs, Tensor.abs, gap=0.125),
    "negative": unary(np.negative, lambda t: -t),
    "square": unary(np.square, lambda t: t ** 2),
    **{f"{name} {form}": binary(fn, op, form, **({"gap": 0.5} if name == "divide" else {}))
       for name, fn, op in [("add", np.add, lambda a, b: a + b),
                            ("subtract", np.subtract, lambda a, b: a - b),
                            ("multiply", np.multiply, lambda a, b: a * b),
                            ("divide", np.divide, lambda a, b: a / b)]
       for form in ("tt", "ta", "at", "ts", "st")},
    "power t**p": Case(np.power, np.power, lambda t, p: t ** p, power_draw),
    "power c**t": Case(np.power, lambda t, c: np.power(c, t), lambda t, c: c ** t,
                       lambda data, dtype: ([data.draw(values(dtype, data.draw(SHAPES)))],
                                            [data.draw(st.sampled_from([0.5, 2.0, np.e]))])),
    "maximum(0, t)": Case(np.maximum, lambda t: np.maximum(0, t), lambda t: tg.maximum(0, t),
                          lambda data, dtype: ([data.draw(values(dtype, data.draw(SHAPES),
                                                                 gap=0.125))], [])),
    **{f"maximum {form}": binary(np.maximum, tg.maximum, form)
       for form in ("tt", "ta", "at")},
    "matmul": products(np.matmul),
    "dot": products(np.dot),
    "dot by a number": Case(np.dot, lambda t, c: np.dot(c, t), lambda t, c: c * t,
                            lambda data, dtype: ([data.draw(values(dtype, data.draw(SHAPES)))],
                                                 [data.draw(st.floats(-2, 2))])),
    "sum": reduction(np.sum, Tensor.sum),
    "mean": reduction(np.mean, Tensor.mean),
    "max": reduction(np.max, Tensor.max),
    "amax": reduction(np.amax, Tensor.max),
    "transpose": Case(np.transpose, np.transpose,
                      lambda t, axes: t.T if axes is None else t.transpose(axes),
                      transpose_draw),
    "reshape": reshaped(np.reshape, lambda s: st.sampled_from([(-1,), (1, -1), (-1, 1)]),
                        lambda shape, arg: arg),
    "ravel": Case(np.ravel, np.ravel, lambda t: t.reshape(-1),
                  lambda data, dtype: ([data.draw(values(dtype, data.draw(SHAPES)))], [])),
    "squeeze": reshaped(np.squeeze, lambda s: st.just(None),
                        lambda shape, arg: tuple(n for n in shape if n != 1)),
    "expand_dims": reshaped(np.expand_dims, lambda s: st.integers(0, len(s)),
                            lambda shape, arg: shape[:arg] + (1,) + shape[arg:]),
    "concatenate": joined(np.concatenate, tg.concatenate),
    "stack": joined(np.stack, tg.stack),
}


# one property test per entry of the table; Hypothesis picks among its forms (constants on
# either side, ...). The calls share the op's code, so a few dozen draws each are plenty
BY_FUNCTION: dict[str, list[str]] = {}
for _name, _case in CASES.items():
    BY_FUNCTION.setdefault(_case.numpy.__name__, []).append(_name)


def test_every_entry_of_the_table_has_a_property_test():
    assert {c.numpy for c in CASES.values()} == set(TABLE)


@pytest.mark.parametrize("function", sorted(BY_FUNCTION))
@settings(max_examples=30)
@given(data=st.data(), dtype=DTYPES)
def test_the_numpy_call_is_the_tinygrad_op(function, data, dtype):
    case = CASES[data.draw(st.sampled_from(BY_FUNCTION[function]), label="form")]
    arrays, constants = case.draw(data, dtype)
    via_np = [Tensor(a, requires_grad=True) for a in arrays]
    via_tg = [Tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        got = case.np_call(*via_np, *constants)
        want = case.tg_call(*via_tg, *constants)
    assert type(got) is Tensor and got.requires_grad and got.op == want.op
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.data, want.data)
    if not np.isfinite(want.data).all():
        return
    g = np.asarray(data.draw(values(want.dtype, want.shape)))
    got.backward(g)
    want.backward(g)
    for a, b in zip(via_np, via_tg):
        assert a.grad.dtype == b.grad.dtype == a.dtype  # float32 stays float32
        np.testing.assert_array_equal(a.grad, b.grad)


# ---------------------------------------------------------------- what the issue asks for
def test_np_exp_of_a_tensor_records_and_backward_fills_grad():
    t = Tensor([0.0, 1.0, -2.0], requires_grad=True)
    y = np.exp(t)
    assert isinstance(y, Tensor) and y.op == "exp"
    y.sum().backward()
    np.testing.assert_allclose(t.grad, np.exp([0.0, 1.0, -2.0]))


def test_np_sort_of_a_grad_tensor_is_a_type_error_naming_a_way_out():
    t = Tensor([3.0, 1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as err:
        np.sort(t)
    msg = str(err.value)
    assert msg.startswith("np.sort is not differentiable in tinygrad_lc")
    assert "t[np.argsort(t.data)]" in msg and "t.data" in msg and "tg.no_grad()" in msg
    # the way out it names works, and keeps the graph
    s = t[np.argsort(t.data)]
    np.testing.assert_array_equal(s.data, [1.0, 2.0, 3.0])
    (s * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(t.grad, [3.0, 1.0, 2.0])


def test_a_comparison_is_a_boolean_array_without_a_graph():
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for got, want in [(t < 2, [True, False, False]), (t <= 2, [True, True, False]),
                      (t > 2, [False, False, True]), (t >= 2, [False, True, True]),
                      (2 > t, [True, False, False]), (np.array([3.0, 2.0, 1.0]) < t,
                                                      [False, False, True]),
                      (t < Tensor([2.0, 2.0, 2.0]), [True, False, False]),
                      (np.less(t, 2), [True, False, False])]:
        assert type(got) is np.ndarray and got.dtype == bool
        np.testing.assert_array_equal(got, want)


def test_equality_is_elementwise_and_hashing_stays_identity():
    t = Tensor([1.0, np.nan], requires_grad=True)
    u = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(t == t, [True, False])  # NaN != NaN, as in NumPy
    np.testing.assert_array_equal(t != u, [False, True])
    np.testing.assert_array_equal(np.array([1.0, 0.0]) == u, [True, False])
    assert (t == None) is False and (t != None) is True  # noqa: E711  (what Python does)
    # dict keys and set members by identity
    d = {t: "t", u: "u"}
    assert d[t] == "t" and d[u] == "u" and len({t, u, t}) == 2
    assert Tensor([1.0]) not in {Tensor([1.0])}


def test_the_engine_holds_tensors_by_identity_where_it_keeps_them_weakly():
    # WeakSet / WeakKeyDictionary would compare two references to one tensor with ==
    w = Tensor(np.ones(3), requires_grad=True)
    w.assign_(2.0)
    w.assign_(3.0)  # a second in-place change of the same tensor
    with tg.detect_anomaly():
        loss = (w * w).sum()
    loss.backward()
    loss2 = (w * w).sum()
    loss2.backward()
    (g,) = tg.grad((w * w).sum(), [w])
    with pytest.raises(RuntimeError, match="create_graph=True"):
        g.backward(np.ones(3))  # plain_grads knows g
    del g, loss
    gc.collect()


# ---------------------------------------------------------------- refusals and their advice
@pytest.mark.parametrize("call, advice", [
    (lambda t: np.sum(t, out=np.empty(())), "never written in place"),
    (lambda t: np.exp(t, out=np.empty(3)), "never written in place"),
    (lambda t: np.sum(t, dtype=np.float32), "make the tensor in the dtype"),
    (lambda t: np.mean(t, where=np.array([True, False, True])), "t[mask]"),
    (lambda t: np.max(t, initial=0.0), "tg.maximum(t.max(), start)"),
    (lambda t: np.add(t, 1.0, where=np.array([True, False, True])), "t * mask"),
    (lambda t: np.reshape(t, (3,), order="F"), "C order only"),
    (lambda t: np.concatenate([t, t], dtype=np.float32), "make the tensor in the dtype"),
    (lambda t: np.matmul(t, t, axes=[(0,), (0,), ()]), "np.matmul with the tensor arguments"),
])
def test_options_an_op_has_no_use_for_are_refused_with_advice(call, advice):
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(TypeError, match="is not supported on tensors") as err:
        call(t)
    assert advice in str(err.value)


@pytest.mark.parametrize("call", [
    lambda t: np.add.at(t, [0], 1.0),
    lambda t: np.copyto(t, np.zeros(3)),
    lambda t: np.sin(np.ones(3), out=(t,)),
])
def test_numpy_never_writes_into_a_tensor(call):
    for t in (Tensor([1.0, 2.0, 3.0]), Tensor([1.0, 2.0, 3.0], requires_grad=True)):
        with pytest.raises(TypeError, match="assign_"):
            call(t)
        np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])


def test_numpy_may_write_a_tensor_s_values_into_an_array():
    t = Tensor([1.0, 2.0, 3.0])
    out = np.zeros(3)
    np.copyto(out, t)
    np.add.at(out, [0, 0], Tensor([1.0, 1.0]))
    np.testing.assert_array_equal(out, [3.0, 2.0, 3.0])


@pytest.mark.parametrize("call, hint", [
    (lambda t: np.sin(t), "Write it with the Tensor ops"),
    (lambda t: np.min(t), "-(-t).max(axis)"),
    (lambda t: np.clip(t, 0, 1), "tg.maximum"),
    (lambda t: np.where(t.data > 0, t, 0.0), "mask"),
    (lambda t: np.linalg.norm(t), "(t * t).sum().sqrt()"),
    (lambda t: np.add.reduce(t), "t.sum(axis)"),
    (lambda t: np.vstack([t, t]), "tg.concatenate"),
])
def test_other_functions_on_a_grad_tensor_name_the_tinygrad_way(call, hint):
    t = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(TypeError, match="is not differentiable in tinygrad_lc") as err:
        call(t)
    assert hint in str(err.value)


def test_without_grad_other_functions_run_on_the_values():
    t = Tensor([3.0, -1.0, 2.0])
    for got, want in [(np.sort(t), [-1.0, 2.0, 3.0]), (np.sin(t), np.sin([3.0, -1.0, 2.0])),
                      (np.clip(t, 0, 2), [2.0, 0.0, 2.0]), (np.add.reduce(t), 4.0),
                      (np.vstack([t, t]), [[3.0, -1.0, 2.0]] * 2)]:
        assert isinstance(got, np.ndarray | np.floating) and not isinstance(got, Tensor)
        np.testing.assert_array_equal(got, want)
    w = Tensor([3.0, -1.0], requires_grad=True)
    with tg.no_grad():  # no graph is recorded anyway: the values
        np.testing.assert_array_equal(np.sort(w), [-1.0, 3.0])
    # the table's functions give tensors either way
    assert isinstance(np.exp(t), Tensor) and not np.exp(t).requires_grad


def test_functions_without_gradient_work_on_grad_tensors():
    t = Tensor([[1.0, 5.0], [np.inf, 2.0]], requires_grad=True)
    assert np.shape(t) == (2, 2) and np.ndim(t) == 2 and np.size(t) == 4
    np.testing.assert_array_equal(np.argmax(t, axis=1), [1, 0])
    np.testing.assert_array_equal(np.isfinite(t), [[True, True], [False, True]])
    assert np.count_nonzero(t > 1) == 3 and np.allclose(t, t.data)
    assert all(f in NO_GRADIENT for f in (np.less, np.argmax, np.isfinite, np.shape))


def test_foreign_array_types_get_their_own_turn():
    class Other:
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            return "other"

    assert np.add(Tensor([1.0]), Other()) == "other"


def test_numpy_calls_replay_under_tg_compile():
    @tg.compile
    def loss(W, X):
        return np.sum(np.maximum(0, np.matmul(X, W))) + np.mean(np.exp(W))

    rng = np.random.default_rng(0)
    for _ in range(3):
        W = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
        X = Tensor(rng.standard_normal((4, 3)))
        eager_W = Tensor(W.data, requires_grad=True)
        want = (np.maximum(0, X @ eager_W)).sum() + eager_W.exp().mean()
        got = loss(W, X)
        got.backward()
        want.backward()
        assert got.item() == want.item()
        np.testing.assert_array_equal(W.grad, eager_W.grad)


def test_a_comparison_inside_tg_compile_is_refused():
    @tg.compile
    def f(W):
        return W.sum() if (W > 0).all() else (-W).sum()

    with pytest.raises(tg.CompileError, match="comparison >"):
        f(Tensor([1.0, 2.0], requires_grad=True))
