"""Behaviour and errors of ``Tensor``, ``backward()``, the recording modes and indexing.

The derivative of each op is checked in ``test_ops.py``; this file checks what the engine does
around the ops: dtypes, data sharing, accumulation, aliasing, the graph walk, modes, errors.
"""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
import pytest
from helpers import graph_of

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core import tensor as engine

F32, F64 = np.float32, np.float64


def leaf(values, dtype=F64, name=None) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, name=name)


# ---------------------------------------------------------------- construction and dtypes
@pytest.mark.parametrize("dtype", [F32, F64])
def test_floating_data_keeps_its_dtype(dtype):
    t = Tensor(np.ones((2, 3), dtype=dtype))
    assert t.dtype == dtype and t.shape == (2, 3) and t.ndim == 2 and t.size == 6


@pytest.mark.parametrize("data", [3, True, [1, 2], [[True, False]], np.arange(3, dtype=np.int32),
                                  np.array([1, 2], dtype=np.uint8)])
def test_integer_and_bool_data_become_float64(data):
    assert Tensor(data).dtype == F64
    assert Tensor(data, requires_grad=True).dtype == F64


def test_python_float_and_scalars():
    t = Tensor(2.5)
    assert t.shape == () and t.dtype == F64 and t.item() == 2.5 and float(t) == 2.5


def test_dtype_argument_is_obeyed():
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert Tensor([1.0, 2.0], dtype=F32).dtype == F32


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_requires_grad_on_non_floating_dtype_is_type_error(dtype):
    with pytest.raises(TypeError, match="requires_grad"):
        Tensor([1, 0], dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("data", ["abc", ["a", "b"], object(), [1 + 2j], np.array([1j]), None,
                                  [[1.0, 2.0], [3.0]], np.datetime64("2020-01-01")],
                         ids=["str", "list of str", "object", "complex list", "complex array",
                              "None", "ragged", "datetime"])
def test_unsupported_data_is_type_error(data):
    with pytest.raises(TypeError, match="Tensor"):
        Tensor(data)


def test_name_must_be_a_string():
    assert Tensor([1.0], name="W").name == "W"
    with pytest.raises(TypeError, match="name"):
        Tensor([1.0], name=3)


def test_constructor_shares_data_like_asarray_but_parameters_get_their_own_copy():
    arr = np.array([1.0, 2.0])
    assert np.shares_memory(Tensor(arr).data, arr)
    w = Tensor(arr, requires_grad=True)
    assert not np.shares_memory(w.data, arr)
    w.data[0] = 99.0  # an optimizer step must not write into the caller's array
    assert arr[0] == 1.0
    assert not np.shares_memory(Tensor(arr, dtype=F32).data, arr)  # a cast copies


def test_numpy_and_detach_share_data_without_graph():
    w = leaf([1.0, 2.0])
    y = w * 2
    assert y.numpy() is y.data
    d = y.detach()
    assert np.shares_memory(d.data, y.data)
    assert d.is_leaf and d.op is None and d.parents == () and not d.requires_grad


def test_leaf_and_node_attributes():
    w = leaf([1.0, -2.0], name="w")
    assert w.is_leaf and w.op is None and w.parents == () and w.grad is None
    y = w * 3.0
    assert not y.is_leaf and y.op == "mul" and y.parents[0] is w
    const = y.parents[1]  # a Python number operand becomes a constant leaf
    assert const.is_leaf and not const.requires_grad and const.item() == 3.0


def test_item_len_and_repr():
    assert Tensor([[4.0]]).item() == 4.0
    with pytest.raises(ValueError, match="item"):
        Tensor([1.0, 2.0]).item()
    assert len(Tensor(np.zeros((3, 2)))) == 3
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))
    r = repr(Tensor(np.ones(2, dtype=F32), requires_grad=True, name="w"))
    assert r.startswith("Tensor([1., 1.]") and "float32" in r and "requires_grad=True" in r
    assert "name='w'" in r and "op='add'" in repr(leaf([1.0]) + 1)


# ---------------------------------------------------------------- dtypes through ops
SCALAR_OPS = {
    "t + 2": lambda t: t + 2,
    "2.5 - t": lambda t: 2.5 - t,
    "t * 3": lambda t: t * 3,
    "1.0 / t": lambda t: 1.0 / t,
    "t / 2": lambda t: t / 2,
    "-t": lambda t: -t,
    "t ** 2": lambda t: t**2,
    "t ** 0.5": lambda t: t**0.5,
    "2 ** t": lambda t: 2**t,
    "maximum(0, t)": lambda t: tg.maximum(0, t),
    "t + int array": lambda t: t + np.array([1, 2]),
    "t * True": lambda t: t * True,
    "t @ int list": lambda t: t @ [1, 2],
}


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_float32_stays_float32_with_python_scalars(name):
    t = leaf([1.5, 2.0], F32)
    out = SCALAR_OPS[name](t)
    assert out.dtype == F32
    out.sum().backward()
    assert t.grad.dtype == F32


@pytest.mark.parametrize("make", [lambda t: t ** np.float64(2.0), lambda t: np.float64(2.0) ** t,
                                  lambda t: t ** np.int64(2)],
                         ids=["t ** np.float64", "np.float64 ** t", "t ** np.int64"])
def test_float32_stays_float32_with_numpy_scalar_exponent(make):
    # t * np.float64(2) stays float32 (constants take the tensor's dtype); pow should too.
    assert make(leaf([1.5, 2.0], F32)).dtype == F32


def test_mixed_float32_float64_promotes_forward_and_grads_keep_their_dtype():
    a, b = leaf([1.0, 2.0], F32), leaf([3.0, 4.0], F64)
    out = a * b
    assert out.dtype == F64
    out.sum().backward()
    assert a.grad.dtype == F32 and b.grad.dtype == F64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_backward_casts_upstream_grad_to_the_output_dtype():
    a = leaf([1.0, 2.0], F32)
    y = a * 2
    y.backward(np.array([1.0, 1.0]))  # float64 upstream
    assert a.grad.dtype == F32 and y.grad.dtype == F32


# ---------------------------------------------------------------- ties and kinks, exactly
def test_max_splits_evenly_among_ties():
    x = leaf([1.0, 3.0, 3.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])


def test_max_along_an_axis_splits_per_row():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]])
    x.max(axis=1).backward(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1, 1, 1], [2, 0, 0]])
    y = leaf([[1.0, 3.0, 3.0]])
    y.max(axis=-1, keepdims=True).sum().backward()
    np.testing.assert_array_equal(y.grad, [[0.0, 0.5, 0.5]])


def test_maximum_splits_in_half_at_ties():
    a, b = leaf([1.0, 2.0, 0.0]), leaf([1.0, 0.0, 3.0])
    tg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 0.0, 1.0])
    m = leaf([0.0, -1.0, 1.0])
    tg.maximum(0, m).sum().backward()
    np.testing.assert_array_equal(m.grad, [0.5, 0.0, 1.0])


@pytest.mark.parametrize("op", ["abs", "relu"])
def test_abs_and_relu_have_derivative_zero_at_zero(op):
    x = leaf([0.0, -2.0, 2.0])
    getattr(x, op)().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, -1.0 if op == "abs" else 0.0, 1.0])


def test_power_zero_has_zero_gradient_everywhere():
    a = leaf([0.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (a**0).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])


# ---------------------------------------------------------------- indexing
def test_repeated_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0])
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])
    y = leaf([1.0, 2.0, 3.0])
    y[[0, -3, 2]].sum().backward()  # -3 is position 0 too
    np.testing.assert_array_equal(y.grad, [2.0, 0.0, 1.0])


def test_correct_class_scores_pick_with_repeated_labels():
    scores = leaf(np.arange(12.0).reshape(4, 3))
    labels = np.array([1, 1, 0, 1])
    picked = scores[np.arange(4), labels]
    np.testing.assert_array_equal(picked.data, [1.0, 4.0, 6.0, 10.0])
    picked.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    expected = np.zeros((4, 3))
    expected[[0, 1, 2, 3], [1, 1, 0, 1]] = [1, 2, 3, 4]
    np.testing.assert_array_equal(scores.grad, expected)


def test_integer_tensor_as_index_and_boolean_mask():
    x = leaf([[1.0, -2.0], [3.0, -4.0]])
    x[Tensor([1, 1], dtype=np.int64)].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0], [2.0, 2.0]])
    y = leaf([[1.0, -2.0], [3.0, -4.0]])
    y[y.data > 0].sum().backward()
    np.testing.assert_array_equal(y.grad, [[1.0, 0.0], [1.0, 0.0]])


def test_basic_indices():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    y = x[1, ::-2, None, ..., 1:3]
    assert y.shape == (2, 1, 2)
    np.testing.assert_array_equal(y.data, x.data[1, ::-2, None, ..., 1:3])
    y.sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[1, ::-2, ..., 1:3] = 1.0
    np.testing.assert_array_equal(x.grad, expected)


@pytest.mark.parametrize("index", ["a", 1.5, np.array([0.5]), [0.5], {0: 1}],
                         ids=["str", "float", "float array", "float list", "dict"])
def test_bad_index_types_raise_index_error_naming_getitem(index):
    with pytest.raises(IndexError, match="getitem"):
        leaf([1.0, 2.0])[index]


@pytest.mark.parametrize("index", [[0, [1]], [[0, 1], [1]], (0, [[0], [1, 0]])],
                         ids=["number and list", "lists of two lengths", "in a tuple"])
def test_a_ragged_index_list_is_an_index_error_naming_getitem(index):
    with pytest.raises(IndexError, match=r"getitem: the index list .* is ragged"):
        leaf(np.ones((2, 2)))[index]


@pytest.mark.parametrize("flag", [True, False])
def test_a_numpy_bool_index_works_like_a_python_bool(flag):
    x, y = leaf([[1.0, 2.0]]), leaf([[1.0, 2.0]])
    a, b = x[np.bool_(flag)], y[flag]
    assert a.shape == b.shape == np.ones((1, 2))[flag].shape
    np.testing.assert_array_equal(a.data, b.data)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_array_equal(x.grad, y.grad)
    assert x[0, np.True_].shape == (1, 2)


@pytest.mark.parametrize("index", [5, -3, np.array([0, 2]), (0, 0), np.array([True])])
def test_out_of_range_indices_name_getitem_and_the_shape(index):
    with pytest.raises(IndexError, match=r"getitem.*\(2,\)"):
        leaf([1.0, 2.0])[index]


# ---------------------------------------------------------------- no aliasing
def _alias_graphs():
    """(name, build) pairs; build returns (root, leaves, upstream grad or None)."""

    def add(a, b):
        return a + b

    def chain():
        a = leaf(np.arange(6.0))
        y = a.reshape(2, 3).T[1:, :]
        return y, [a], np.ones((2, 2))

    def reuse():
        a = leaf([1.0, 2.0])
        return a + a, [a], np.array([1.0, -1.0])

    def broadcast():
        a, b = leaf(np.ones((2, 3))), leaf(np.ones(3))
        return add(a, b) - b, [a, b], np.ones((2, 3))

    def pick():
        s = leaf(np.ones((3, 2)))
        return s[np.arange(3), np.array([0, 0, 1])], [s], np.arange(3.0)

    def reductions():
        a = leaf(np.ones((2, 3)))
        return a.sum(axis=0).reshape(1, 3).transpose(1, 0), [a], np.ones((3, 1))

    def joins():
        a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
        return tg.concatenate([a, b]) + tg.stack([a, b]).reshape(4), [a, b], np.ones(4)

    def scalar():
        w = leaf(np.ones((3, 2)))
        x = Tensor(np.ones((4, 3)))
        return tg.maximum(0, x @ w + 1.0).mean(), [w], None

    return [("chain", chain), ("reuse", reuse), ("broadcast", broadcast), ("pick", pick),
            ("reductions", reductions), ("joins", joins), ("scalar", scalar)]


@pytest.mark.parametrize("retain", [True, False], ids=["retain_grads", "leaves only"])
@pytest.mark.parametrize("build", [b for _, b in _alias_graphs()],
                         ids=[n for n, _ in _alias_graphs()])
def test_no_grad_aliases_data_another_grad_or_the_upstream_grad(build, retain):
    root, leaves, upstream = build()
    root.backward(upstream, retain_grads=retain)
    root.backward(upstream, retain_grads=retain)  # accumulating must not create aliases either
    tensors = graph_of(root)
    grads = [t.grad for t in tensors if t.grad is not None]
    holders = [t for t in tensors if t.requires_grad and (retain or t.is_leaf)]
    assert len(grads) == len(holders) and all(t.grad is not None for t in holders)
    datas = [t.data for t in tensors]
    for g1, g2 in itertools.combinations(grads, 2):
        assert not np.shares_memory(g1, g2)
    for g in grads:
        assert not any(np.shares_memory(g, d) for d in datas)
        assert upstream is None or not np.shares_memory(g, upstream)
    # writing into one grad leaves every other grad alone
    before = [g.copy() for g in grads]
    for k, g in enumerate(grads):
        g += 100.0
        for j, (other, old) in enumerate(zip(grads, before)):
            if j != k:
                np.testing.assert_array_equal(other, old)
        g -= 100.0


def test_upstream_grad_is_not_kept():
    a = leaf([1.0, 2.0])
    y = a * 1.0
    g = np.array([1.0, 1.0])
    y.backward(g)
    g[:] = 7.0
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])


# ---------------------------------------------------------------- backward
def test_a_100000_op_chain_needs_no_recursion():
    x = leaf(1.0)
    y = x
    for k in range(100_000):
        y = -y if k % 2 else y + 1.0
    y.backward()
    assert x.grad == 1.0  # 50,000 negations


def test_reused_node_gets_its_gradient_once_per_path():
    a = leaf([1.0, -2.0])
    b = a + a
    c = b * b
    c.sum().backward()
    np.testing.assert_array_equal(b.grad, 2 * b.data)
    np.testing.assert_array_equal(a.grad, 8 * a.data)  # d(4a^2)/da


def test_many_paths_into_one_leaf():
    a = leaf(2.0)
    total = a * 1.0
    for k in range(2, 51):
        total = total + a * float(k)
    total.backward()
    assert a.grad == sum(range(1, 51))


def test_leaves_accumulate_across_calls_and_zero_grad_resets():
    w = leaf([1.0, 2.0])
    for _ in range(3):
        (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, 3 * 2 * w.data)
    w.zero_grad()
    assert w.grad is None
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_backward_twice_on_one_graph_accumulates_everywhere():
    w = leaf([1.0, 2.0])
    h = w * w
    loss = h.sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(w.grad, 2 * 2 * w.data)
    np.testing.assert_array_equal(h.grad, [2.0, 2.0])


def test_every_tensor_requiring_grad_holds_a_grad_and_constants_never_do():
    X = Tensor(np.arange(6.0).reshape(2, 3))
    W, b = leaf(np.full((3, 2), 0.1), name="W"), leaf([0.0, -1.0], name="b")
    loss = (tg.maximum(0, X @ W + b) * 2.0).sum() / 4
    loss.backward()
    tensors = graph_of(loss)
    assert len(tensors) > 8
    for t in tensors:
        if t.requires_grad:
            assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype
        else:
            assert t.grad is None
    assert X.grad is None
    # X @ W + b = [[0.3, -0.7], [1.2, 0.2]]: unit 1 is off for the first row
    np.testing.assert_array_equal(b.grad, [1.0, 0.5])


def test_retain_grads_false_keeps_leaf_grads_only_with_the_same_values():
    def build():
        X = Tensor(np.arange(6.0).reshape(2, 3))
        W, b = leaf(np.full((3, 2), 0.1)), leaf([0.0, -1.0])
        return (tg.maximum(0, X @ W + b) * 2.0).sum() / 4, W, b

    full, W1, b1 = build()
    full.backward()
    lean, W2, b2 = build()
    lean.backward(retain_grads=False)
    np.testing.assert_array_equal(W2.grad, W1.grad)
    np.testing.assert_array_equal(b2.grad, b1.grad)
    assert all(t.grad is None for t in graph_of(lean) if not t.is_leaf)


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
@pytest.mark.parametrize("retain", [True, False], ids=["retain_grads", "leaves only"])
def test_a_backward_stopped_part_way_leaves_nothing_pending_for_the_next_one(error, retain):
    # Ctrl-C (or a failure) in a VJP after another path already sent x its part: running
    # backward again must give the gradients of one backward, with no stale part added
    x = leaf([1.0, 2.0], name="x")
    square, cube = x * x, x**3
    loss = (square * 3.0).sum() + cube.sum()
    stopped = []

    def stop_once(vjp):
        def flaky(*args, **kw):
            if not stopped and x._pg is not None:  # x already holds a pending part
                stopped.append(True)
                raise error
            return vjp(*args, **kw)
        return flaky

    for t in (square, cube):
        t._vjps = tuple(stop_once(v) for v in t._vjps)
    with pytest.raises(error):
        loss.backward(retain_grads=retain)
    assert stopped and x.grad is None
    loss.backward(retain_grads=retain)
    np.testing.assert_array_equal(x.grad, [9.0, 24.0])  # d(3x^2 + x^3)/dx = 6x + 3x^2


@pytest.mark.parametrize("retain", [True, False])
def test_a_backward_stopped_part_way_changes_no_grad(retain):
    # the tensors the sweep reached before the error (a leaf of another branch, intermediates)
    # keep no .grad from it, so the retry gives each the gradient of one backward
    a = leaf([1.0, 2.0], name="a")
    ea = a * 2
    b = leaf([3.0, 4.0], name="b")  # created after ea: the reverse sweep reaches b before ea
    eb = b * b
    loss = ea.sum() + eb.sum()
    stopped = []

    def stop_once(vjp):
        def flaky(*args, **kw):
            if not stopped:
                stopped.append(True)
                raise KeyboardInterrupt
            return vjp(*args, **kw)
        return flaky

    ea._vjps = tuple(stop_once(v) for v in ea._vjps)
    with pytest.raises(KeyboardInterrupt):
        loss.backward(retain_grads=retain)
    assert stopped and a.grad is None and b.grad is None and eb.grad is None
    loss.backward(retain_grads=retain)
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad, [6.0, 8.0])


def test_scalar_shaped_non_0d_tensor_gets_default_grad():
    w = leaf([[2.0]])
    (w * 3.0).backward()
    np.testing.assert_array_equal(w.grad, [[3.0]])


def test_backward_on_non_scalar_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match=r"backward.*\(2,\)"):
        (leaf([1.0, 2.0]) * 2).backward()


def test_backward_with_a_grad_of_the_wrong_shape_is_an_error():
    with pytest.raises(ValueError, match=r"backward.*\(3,\).*\(2,\)"):
        (leaf([1.0, 2.0]) * 2).backward(np.ones(3))


def test_backward_on_a_tensor_not_requiring_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0, 2.0]) * 2).sum().backward()


def test_ops_on_constants_record_nothing():
    y = Tensor([1.0]) * 2 + Tensor([3.0])
    assert not y.requires_grad and y.op is None and y.parents == ()


def test_backward_refuses_values_changed_in_place_after_the_forward():
    a = leaf([1.0, 2.0], name="a")
    b = a * a
    a.data = np.array([5.0, 5.0])
    assert a.version == 1
    with pytest.raises(RuntimeError, match="'a'.*changed in place"):
        b.sum().backward()
    c = a + a  # add does not read its inputs' values, so it stays differentiable
    a.data[:] = 0.0
    a._bump_version()
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])


def test_data_setter_checks_shape():
    with pytest.raises(ValueError, match=r"Tensor.data.*\(3,\).*\(2,\)"):
        leaf([1.0, 2.0]).data = np.ones(3)


# ---------------------------------------------------------------- modes
def test_no_grad_records_nothing():
    w = leaf([1.0, 2.0])
    with tg.no_grad():
        y = (w * 2).sum()
        with tg.enable_grad():
            z = w * 2
    assert not y.requires_grad and y.op is None and y.parents == ()
    assert z.requires_grad and z.op == "mul"
    with pytest.raises(RuntimeError):
        y.backward()
    assert w.grad is None


@pytest.mark.parametrize("mode", ["no_grad", "constants"])
def test_detect_anomaly_does_not_record_a_graph_that_would_not_exist_without_it(mode):
    w = leaf([1.0, 2.0]) if mode == "no_grad" else Tensor([1.0, 2.0])
    with tg.detect_anomaly(), (tg.no_grad() if mode == "no_grad" else tg.enable_grad()):
        y = w * 2
    assert not y.requires_grad and y.op is None and y.parents == () and y.is_leaf


def test_modes_can_be_read():
    assert (tg.is_grad_enabled(), tg.current_scope(), tg.is_anomaly_enabled()) == (True, "", False)
    with tg.no_grad(), tg.scope("a"), tg.detect_anomaly():
        assert (tg.is_grad_enabled(), tg.current_scope(), tg.is_anomaly_enabled()) == (
            False, "a", True)
    assert (tg.is_grad_enabled(), tg.current_scope(), tg.is_anomaly_enabled()) == (True, "", False)


def test_no_grad_restores_recording_after_an_exception():
    w = leaf([1.0])
    with pytest.raises(ZeroDivisionError), tg.no_grad():
        raise ZeroDivisionError
    assert (w * 2).requires_grad


def test_scope_names_ops_and_nests_with_slash():
    w = leaf([1.0])
    top = w * 2
    with tg.scope("svm_loss") as outer:
        a = w * 2
        with tg.scope("margins") as inner:
            b = a + 1
        c = b * 3
    assert (top.scope, a.scope, b.scope, c.scope) == ("", "svm_loss", "svm_loss/margins",
                                                      "svm_loss")
    assert (outer, inner) == ("svm_loss", "svm_loss/margins")
    with pytest.raises(ValueError), tg.scope("broken"):
        raise ValueError
    assert (w * 1).scope == ""


def test_reentering_one_scope_object_restores_the_outer_scope():
    w = leaf([1.0])
    s = tg.scope("a")
    with s:
        with s:
            inner = w * 2
        middle = w * 2
        with s:
            again = w * 2
    after = w * 2
    assert (inner.scope, middle.scope, again.scope, after.scope) == ("a/a", "a", "a/a", "")
    with s, tg.scope("b"), s:  # and when other blocks sit in between
        assert (w * 2).scope == "a/b/a"
    assert (w * 2).scope == ""


def test_leaving_scopes_out_of_order_is_refused_and_changes_nothing():
    a, b = tg.scope("a"), tg.scope("b")
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="scope: leaving scope 'a', which is not the innermost"):
        a.__exit__(None, None, None)
    assert tg.current_scope() == "a/b"
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert tg.current_scope() == ""


@pytest.mark.parametrize("name,error", [("", ValueError), ("a/b", ValueError), (3, TypeError),
                                        (None, TypeError)])
def test_scope_rejects_bad_names(name, error):
    with pytest.raises(error, match="scope"), tg.scope(name):
        pass


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_op_scope_and_user_line_in_forward():
    x = leaf([0.0, 1.0])
    with pytest.raises(tg.AnomalyError) as info, tg.detect_anomaly(), tg.scope("loss"):
        x.log()
    message = str(info.value)
    assert message.startswith("log:") and "inf" in message
    assert "'loss'" in message and os.path.basename(__file__) in message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_catches_a_bad_gradient_in_backward():
    x = leaf([0.0, 4.0])
    with tg.detect_anomaly():
        y = x.sqrt()  # finite forward, infinite slope at 0
        with pytest.raises(tg.AnomalyError, match="sqrt: backward"):
            y.sum().backward()


def test_without_detect_anomaly_nothing_is_raised():
    x = leaf([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isinf(x.log().data[0])


def test_kink_log_records_kink_ops_even_without_grad():
    x = Tensor([-1.0, 0.0, 2.0])
    with engine.kink_log() as log, tg.scope("s"), tg.no_grad():
        x.relu()
        x.abs()
        x.exp()
        tg.maximum(x, 0.5)
        x.max()
    assert [(name, scope) for name, scope, _ in log] == [
        ("relu", "s"), ("abs", "s"), ("maximum", "s"), ("max", "s")]
    np.testing.assert_array_equal(log[0][2], [-1, 0, 1])


# ---------------------------------------------------------------- errors
def test_matmul_shape_mismatch_names_op_and_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"^matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul.*\(3,\).*\(4,\)"):
        np.ones(3) @ Tensor(np.ones(4))


@pytest.mark.parametrize("shapes", [((2, 2, 2), (2, 2)), ((), (2,)), ((2,), ())])
def test_matmul_refuses_other_ranks(shapes):
    with pytest.raises(ValueError, match="matmul"):
        Tensor(np.ones(shapes[0])) @ Tensor(np.ones(shapes[1]))


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": tg.maximum,
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("left_tensor", [True, False])
def test_broadcast_mismatch_names_op_and_both_shapes(name, left_tensor):
    a, b = np.ones((2, 3)), np.ones(4)
    a, b = (Tensor(a, requires_grad=True), b) if left_tensor else (a, Tensor(b))
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(2, 3\) and \(4,\) cannot be"):
        BINARY[name](a, b)


@pytest.mark.parametrize("other", ["a", None, 1j, np.array(["a"]), [1 + 1j], {1: 2}])
def test_unsupported_operands_are_type_errors(other):
    with pytest.raises(TypeError, match="add"):
        leaf([1.0]) + other


def test_pow_needs_a_constant_real_exponent_and_positive_base():
    with pytest.raises(TypeError, match="pow"):
        leaf([1.0]) ** leaf([2.0])
    with pytest.raises(TypeError, match="pow"):
        leaf([1.0]) ** "2"
    with pytest.raises(TypeError, match="pow"):
        (-2.0) ** leaf([1.0])


@pytest.mark.parametrize("f", [lambda t: t.log(), lambda t: t.sqrt(), tg.log],
                         ids=["log", "sqrt", "tg.log"])
def test_log_and_sqrt_refuse_negative_input(f):
    with pytest.raises(ValueError, match=r"(log|sqrt): input has 1 negative entry"):
        f(leaf([1.0, -0.5]))


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2)])
def test_bad_reshape_names_both_shapes(shape):
    with pytest.raises(ValueError, match=r"reshape: cannot reshape shape \(2, 3\)"):
        Tensor(np.ones((2, 3))).reshape(*shape)


@pytest.mark.parametrize("axes", [(0, 0), (0, 2), (0,), (0, 1, 2)])
def test_transpose_needs_a_permutation(axes):
    with pytest.raises(ValueError, match="transpose"):
        Tensor(np.ones((2, 3))).transpose(*axes)


@pytest.mark.parametrize("shape,axes", [((3,), (1,)), ((2, 3), (2, 1)), ((2, 3), (0, 3))])
def test_transpose_rejects_out_of_range_axes(shape, axes):
    with pytest.raises(ValueError, match="transpose"):
        Tensor(np.ones(shape)).transpose(*axes)


def test_transpose_rejects_non_integer_axes():
    with pytest.raises(TypeError, match="transpose"):
        Tensor(np.ones((2, 3))).transpose("a", "b")


def test_transpose_with_negative_axes_backward():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    y = x.transpose(-1, 0, 1)
    g = np.arange(24.0).reshape(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, np.transpose(g, (1, 2, 0)))


@pytest.mark.parametrize("method", ["sum", "mean", "max", "logsumexp", "softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [2, -3, (0, 2)])
def test_axis_out_of_range_names_op_and_shape(method, axis):
    if isinstance(axis, tuple) and method.endswith("softmax"):
        axis = 5
    with pytest.raises(ValueError, match=rf"{method}: axis .* out of range for shape \(2, 3\)"):
        getattr(Tensor(np.ones((2, 3))), method)(axis=axis)


@pytest.mark.parametrize("method", ["sum", "max", "logsumexp"])
def test_repeated_axes_name_the_op(method):
    with pytest.raises(ValueError, match=method):
        getattr(Tensor(np.ones((2, 3))), method)(axis=(0, -2))


@pytest.mark.parametrize("axis", ["a", 1.0, True])
def test_non_integer_axis_is_a_type_error(axis):
    with pytest.raises(TypeError, match="sum: axis"):
        Tensor(np.ones((2, 3))).sum(axis=axis)


def test_softmax_of_a_0d_tensor_is_refused():
    with pytest.raises(ValueError, match="softmax"):
        Tensor(1.0).softmax()


def test_max_of_an_empty_tensor_is_refused():
    with pytest.raises(ValueError, match=r"max: .*empty"):
        Tensor(np.ones((2, 0))).max(axis=0)


@pytest.mark.parametrize("method", ["logsumexp", "mean"])
def test_empty_reductions_without_identity_are_refused(method):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=rf"{method}: .*empty"):
            getattr(Tensor(np.ones((2, 0))), method)()


@pytest.mark.parametrize("bad", [
    lambda: tg.concatenate([]),
    lambda: tg.concatenate(Tensor([1.0])),
    lambda: tg.concatenate([Tensor([1.0]), Tensor([[1.0]])]),
    lambda: tg.concatenate([Tensor([1.0]), Tensor([2.0])], axis=1),
    lambda: tg.stack([Tensor([1.0]), Tensor([1.0, 2.0])]),
    lambda: tg.stack([Tensor([1.0])], axis=3),
], ids=["empty", "a tensor", "ranks", "axis", "stack shapes", "stack axis"])
def test_bad_joins_are_value_errors(bad):
    with pytest.raises(ValueError, match="concatenate|stack"):
        bad()


def test_float16_data_becomes_float64_and_an_explicit_float16_is_refused():
    assert Tensor(np.ones(2, np.float16)).dtype == np.float64
    with pytest.raises(TypeError, match="Tensor: dtype float16"):
        Tensor([1.0], dtype=np.float16)


def test_concatenate_takes_a_generator():
    parts = (Tensor([float(i)], requires_grad=True) for i in range(3))
    out = tg.concatenate(parts)
    np.testing.assert_array_equal(out.data, [0.0, 1.0, 2.0])


def test_reshape_and_keepdims_refuse_wrong_types():
    for shape in (("a",), (2.0, 2)):
        with pytest.raises(TypeError, match="reshape: the new shape must be ints"):
            Tensor(np.ones(4)).reshape(*shape)
    with pytest.raises(TypeError, match="sum: keepdims"):
        Tensor(np.ones(4)).sum(keepdims="yes")


def test_bool_follows_numpy():
    assert not Tensor(0.0) and Tensor([2.0]) and not Tensor([[0.0]])
    with pytest.raises(ValueError, match=r"bool: the truth value of a tensor of shape \(2,\)"):
        bool(Tensor([1.0, 2.0]))


def test_a_0d_array_exponent_is_a_constant():
    t = Tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    out = t ** np.array(3.0)
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_allclose(t.grad, [3.0, 12.0])


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_names_the_op(method, axis):
    with pytest.raises(ValueError, match=rf"{method}: cannot normalize over an empty axis "
                                         r"\(shape \(3, 0\), axis 1\)"):
        getattr(Tensor(np.ones((3, 0))), method)(axis=axis)
    out = getattr(leaf(np.ones((0, 3))), method)()  # no rows: an empty result is fine
    assert out.shape == (0, 3)


# ---------------------------------------------------------------- NumPy interop and copies
@pytest.mark.parametrize("dtype", [F32, F64])
def test_numpy_asarray_gives_the_data_and_array_copies_it(dtype):
    t = leaf([1.0, 2.0], dtype=dtype)
    shared = np.asarray(t)
    assert shared.dtype == dtype and shared is t.data
    copied = np.array(t)
    assert copied.dtype == dtype and not np.shares_memory(copied, t.data)
    np.testing.assert_array_equal(copied, t.data)
    as64 = np.asarray(t, dtype=np.float64)
    assert as64.dtype == np.float64 and (as64 is t.data) == (dtype == F64)
    assert np.array(t, copy=False) is t.data
    np.testing.assert_array_equal(np.stack([Tensor([1.0]), Tensor([2.0])]), [[1.0], [2.0]])


def test_a_list_holding_a_tensor_that_requires_grad_is_not_silently_cut_from_the_graph():
    w = leaf([1.0])
    for make in (lambda: Tensor([w, w]), lambda: Tensor([1.0]) + [w], lambda: tg.exp([w])):
        with pytest.raises(TypeError, match="requires grad.*tg.stack"):
            make()
    assert Tensor([Tensor(1.0), Tensor(2.0)]).data.tolist() == [1.0, 2.0]  # values: fine


def test_numpy_asarray_without_copy_refuses_a_dtype_change():
    with pytest.raises(ValueError,
                       match=r"Tensor.__array__: dtype float32 needs a copy .*copy=False"):
        np.array(Tensor([1.0, 2.0]), dtype=np.float32, copy=False)


def test_deepcopy_of_a_long_graph_is_refused_with_a_message():
    import copy

    x = leaf([1.0])
    y = x
    for _ in range(5_000):
        y = y * 1.0
    with pytest.raises(RuntimeError, match=r"deepcopy: cannot copy a tensor made by op 'mul'"):
        copy.deepcopy(y)
    assert copy.deepcopy(y.detach()).data == y.data  # the values alone copy fine


def test_deepcopy_of_leaves_copies_data_grad_and_flags_and_keeps_sharing():
    import copy

    w = leaf([1.0, 2.0], name="w")
    (w * w).sum().backward()
    frozen = w.detach()  # shares w's data
    w2, frozen2 = copy.deepcopy([w, frozen])
    assert (w2.requires_grad, w2.name, w2.is_leaf, frozen2.requires_grad) == (True, "w", True,
                                                                                False)
    np.testing.assert_array_equal(w2.grad, w.grad)
    assert not np.shares_memory(w2.data, w.data) and not np.shares_memory(w2.grad, w.grad)
    assert w2.data is frozen2.data  # what shared memory before still does, among the copies
    w2.assign_(5.0)
    assert w.data.tolist() == [1.0, 2.0] and frozen2.data.tolist() == [5.0, 5.0]
    (w2 * 3).sum().backward()
    np.testing.assert_array_equal(w2.grad, [5.0, 7.0])  # [2, 4] copied, then + 3


def test_data_module_is_an_attribute_of_the_package():
    import sys

    assert tg.data is sys.modules["tinygrad_lc.data"]
    X, = tg.data.preprocess(np.array([[1.0, 3.0], [3.0, 5.0]]), bias=False)
    assert X.tolist() == [[-1.0, -1.0], [1.0, 1.0]]


def test_keepdims_takes_0_and_1_like_numpy():
    assert Tensor(np.ones((2, 3))).sum(axis=1, keepdims=1).shape == (2, 1)
