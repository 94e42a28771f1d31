"""Tests of tinygrad_lc/regularizers.py: values, gradients, the lecture's L1/L2 example, max_norm_.

Gradients are checked against float64 central differences and HIPS autograd. Weights are drawn
with |w| >= GAP, so the kink of |w| at 0 is never within a step.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_lc import Tensor
from tinygrad_lc.gradcheck import numerical_gradient
from tinygrad_lc.regularizers import elastic_net, l1, l2, max_norm_

GAP = 0.05
H = 1e-6
FD = {"rtol": 1e-6, "atol": 1e-8}
AG = {"rtol": 1e-12, "atol": 1e-14}
SHAPES = hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


AWAY = st.one_of(floats(-3, -GAP), floats(GAP, 3))  # clear of |w|'s kink at 0
weights = hnp.arrays(np.float64, SHAPES, elements=AWAY)
weight_lists = st.lists(weights, min_size=1, max_size=3)
BETAS = st.sampled_from([0.0, 0.1, 1.0, 2.5])

# name -> (engine function of a list of Tensors, reference on a list of arrays, extra kwargs)
PENALTIES = {
    "l2": (lambda ws, beta: l2(ws), lambda ws, beta: sum(anp.sum(w**2) for w in ws)),
    "l1": (lambda ws, beta: l1(ws), lambda ws, beta: sum(anp.sum(anp.abs(w)) for w in ws)),
    "elastic_net": (lambda ws, beta: elastic_net(ws, beta),
                    lambda ws, beta: sum(anp.sum(beta * w**2 + anp.abs(w)) for w in ws)),
}


def _central(ref, arrays, k, beta):
    """Central differences of the reference penalty w.r.t. the k-th array."""
    work = [x.copy() for x in arrays]
    return numerical_gradient(lambda: float(ref(work, beta)), work[k], h=H)


@pytest.mark.parametrize("name", PENALTIES)
@given(arrays=weight_lists, beta=BETAS)
def test_values_and_gradients(name, arrays, beta):
    ours, ref = PENALTIES[name]
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    out = ours(ts, beta)
    assert out.shape == ()
    assert out.item() == pytest.approx(float(ref(arrays, beta)), rel=1e-12)
    out.backward()
    for k, a in enumerate(arrays):
        np.testing.assert_allclose(ts[k].grad, _central(ref, arrays, k, beta), **FD)
        of_one = lambda x, k=k: ref([x if j == k else w for j, w in enumerate(arrays)], beta)
        np.testing.assert_allclose(ts[k].grad, grad(of_one)(a), **AG)


@pytest.mark.parametrize("name", PENALTIES)
@given(a=weights, beta=BETAS, u=floats(-3, 3))
def test_single_tensor_equals_one_element_list(name, a, beta, u):
    ours, _ = PENALTIES[name]
    t1, t2 = Tensor(a, requires_grad=True), Tensor(a, requires_grad=True)
    one, listed = ours(t1, beta), ours([t2], beta)
    assert one.item() == listed.item()
    one.backward(np.array(u))  # a random upstream gradient scales the whole gradient
    listed.backward(np.array(u))
    np.testing.assert_array_equal(t1.grad, t2.grad)


def test_lecture_l2_prefers_spread_weights_l1_ties():
    x = np.ones(4)
    w1, w2 = Tensor([1.0, 0.0, 0.0, 0.0]), Tensor([0.25, 0.25, 0.25, 0.25])
    assert w1.data @ x == w2.data @ x == 1.0
    assert l2(w1).item() == 1.0 and l2(w2).item() == 0.25
    assert l1(w1).item() == l1(w2).item() == 1.0


def test_abs_kink_convention():
    w = Tensor([0.0, -2.0, 3.0], requires_grad=True)
    l1(w).backward()
    np.testing.assert_array_equal(w.grad, [0.0, -1.0, 1.0])  # derivative 0 at exactly 0


def test_scopes_and_dtype():
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    for fn, name in [(l2, "l2"), (l1, "l1"), (lambda t: elastic_net(t, 0.5), "elastic_net")]:
        out = fn(w)
        assert out.scope == name and out.dtype == np.float32
        w.grad = None
        out.backward()
        assert w.grad.dtype == np.float32


def test_ndarray_is_a_constant():
    out = l2(np.array([3.0, 4.0]))
    assert out.item() == 25.0 and not out.requires_grad


@pytest.mark.parametrize("fn", [l2, l1, lambda w: elastic_net(w, 1.0)])
@pytest.mark.parametrize("bad,error,text", [
    ([], ValueError, "non-empty list"),
    ("W", TypeError, "got str"),
    ([Tensor([1.0]), 3.0], TypeError, "float (item 1)"),
])
def test_bad_inputs(fn, bad, error, text):
    with pytest.raises(error) as info:
        fn(bad)
    assert text in str(info.value)
    assert str(info.value).split(":")[0] in ("l2", "l1", "elastic_net")


@pytest.mark.parametrize("beta,error", [(-0.1, ValueError), (float("nan"), ValueError),
                                        (float("inf"), ValueError), ("1", TypeError),
                                        (True, TypeError)])
def test_bad_beta(beta, error):
    with pytest.raises(error, match="elastic_net: beta"):
        elastic_net(Tensor([1.0]), beta)


# ---------------------------------------------------------------- max_norm_
@given(a=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=floats(-5, 5)),
       c=floats(0.1, 5), axis=st.sampled_from([0, 1, -1]))
def test_max_norm_projects_each_slice(a, c, axis):
    W = Tensor(a, requires_grad=True)
    before, data, version = W.data.copy(), W.data, W.version
    assert max_norm_(W, c, axis=axis) is W
    assert W.data is data  # changed in place, not replaced
    old = np.linalg.norm(before, axis=axis, keepdims=True)
    new = np.linalg.norm(W.data, axis=axis, keepdims=True)
    assert np.all(new <= c * (1 + 1e-12))
    over = np.broadcast_to(old > c, a.shape)
    np.testing.assert_array_equal(W.data[~over], before[~over])  # untouched, bit for bit
    np.testing.assert_allclose(new[old > c], c, rtol=1e-12)
    # direction kept: each rescaled slice is the old one times c / |old|
    np.testing.assert_allclose(W.data, before * np.where(old > c, c / np.maximum(old, c), 1.0),
                               rtol=1e-12, atol=0)
    assert W.version == version + (1 if over.any() else 0)


def test_max_norm_columns_by_default_and_ndarray():
    a = np.array([[3.0, 0.3], [4.0, 0.4]])
    max_norm_(a, 1.0)
    np.testing.assert_allclose(a, [[0.6, 0.3], [0.8, 0.4]])
    rows = np.array([[3.0, 4.0], [0.3, 0.4]])
    max_norm_(rows, 1.0, axis=1)
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.3, 0.4]])


def test_max_norm_records_no_graph_and_guards_old_graphs():
    W = Tensor([[3.0], [4.0]], requires_grad=True)
    loss = (W * W).sum()
    max_norm_(W, 1.0)
    assert W.is_leaf and W.grad is None
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()  # the forward saw the old W


@pytest.mark.parametrize("kw,error,text", [
    ({"c": 0.0}, ValueError, "c must be > 0, got 0.0"),
    ({"c": -1.0}, ValueError, "got -1.0"),
    ({"c": float("nan")}, ValueError, "got nan"),
    ({"c": "1"}, TypeError, "real number"),
    ({"c": 1.0, "axis": 2}, ValueError, "axis 2 is out of range"),
])
def test_max_norm_bad_arguments(kw, error, text):
    with pytest.raises(error, match="max_norm_") as info:
        max_norm_(Tensor(np.ones((2, 2))), **kw)
    assert text in str(info.value)


def test_max_norm_bad_targets():
    with pytest.raises(TypeError, match="max_norm_: W must hold floats"):
        max_norm_(np.ones((2, 2), dtype=np.int64), 1.0)
    with pytest.raises(TypeError, match="max_norm_: W must be a Tensor or an ndarray"):
        max_norm_([[1.0, 2.0]], 1.0)


def test_max_norm_refuses_read_only_arrays():
    frozen = np.full((2, 2), 5.0)
    frozen.setflags(write=False)
    for target in (frozen, Tensor(frozen)):
        with pytest.raises(ValueError, match="max_norm_: W's array is read-only"):
            max_norm_(target, 1.0)
    assert np.all(frozen == 5.0)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e200), (np.float64, 1e308),
                                        (np.float32, 1e20), (np.float32, 3e38)])
def test_max_norm_of_huge_weights_rescales_instead_of_wiping_them(dtype, big):
    # sum(W**2) overflows to inf for these, which made the scale c / inf = 0
    W = np.array([[big, 0.3], [-big, 0.4], [0.0, 0.0]], dtype=dtype)
    max_norm_(W, 2.0)
    assert W.dtype == dtype and np.all(np.isfinite(W))
    np.testing.assert_allclose(W[:, 0], [np.sqrt(2.0), -np.sqrt(2.0), 0.0], rtol=1e-6)
    np.testing.assert_array_equal(W[:, 1], np.array([0.3, 0.4, 0.0], dtype=dtype))


def test_max_norm_of_tiny_and_zero_slices():
    W = np.array([[1e-300, 0.0], [1e-300, 0.0]])
    max_norm_(W, 1e-301)  # squares underflow to 0, which must not leave the slice unscaled
    np.testing.assert_allclose(W[:, 0], [1e-301 / np.sqrt(2.0)] * 2, rtol=1e-9)
    assert np.all(W[:, 1] == 0.0)


def test_penalty_looks_up_each_regularizer_by_name():
    from tinygrad_lc.regularizers import REGULARIZERS, penalty

    W = Tensor([[1.0, -2.0], [0.5, 0.0]])
    assert REGULARIZERS == ("l2", "l1", "elastic_net")
    assert penalty("l2", W).item() == l2(W).item()
    assert penalty("l1", W, beta=9.0).item() == l1(W).item()  # beta is elastic_net's only
    assert penalty("elastic_net", W, beta=0.5).item() == elastic_net(W, 0.5).item()
    with pytest.raises(ValueError, match="penalty: name must be one of 'l2', 'l1'"):
        penalty("l3", W)
    with pytest.raises(ValueError, match="elastic_net: beta must be a finite number >= 0"):
        penalty("elastic_net", W, beta=float("nan"))
