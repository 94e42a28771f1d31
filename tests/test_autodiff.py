"""Tests for tinygrad_lc/autodiff.py (grad, hvp, jacobian, hessian), gradgradcheck and
assert_second_order_match: closed forms of the lecture's losses, bad input, memory, diagrams.
(Per-op second derivatives are in test_higher_order.py.)"""

from __future__ import annotations

import gc
import weakref

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import SLACK, detached, gc_off, graph_of, peaks
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.autodiff import grad, hessian, hvp, jacobian
from tinygrad_lc.core.ops import OPS, PRIMITIVES
from tinygrad_lc.core.recording import TensorBackend
from tinygrad_lc.gradcheck import GradcheckError, gradgradcheck, gradgradcheck_report
from tinygrad_lc.losses import softmax_loss, svm_loss
from tinygrad_lc.regularizers import l2
from tinygrad_lc.testing import (
    assert_second_order_match,
    classification_batches,
    score_matrices,
    tensors,
)

RNG = np.random.default_rng(0)


def _w(shape=(3, 2), name="W"):
    return Tensor(RNG.normal(size=shape), requires_grad=True, name=name)


# ---------------------------------------------------------------- grad
def test_both_backends_have_the_same_primitives():
    recorded = {n for n in vars(TensorBackend) if not n.startswith("_")} - {"name"}
    assert set(PRIMITIVES) == recorded and len(PRIMITIVES) == 19


def test_grad_equals_backward_and_leaves_grad_alone():
    W, X = _w(), Tensor(RNG.normal(size=(4, 3)))
    h = X @ W
    loss = (h * h).sum() + l2(W)
    gW, gh = grad(loss, [W, h])
    assert W.grad is None and h.grad is None and not gW.requires_grad
    loss.backward()
    np.testing.assert_array_equal(gW.data, W.grad)
    np.testing.assert_array_equal(gh.data, h.grad)
    assert not np.shares_memory(gW.data, W.grad)


def test_an_input_listed_twice_gets_two_separate_gradients():
    x = _w((2,), "x")
    a, b = grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.shares_memory(a.data, b.data)


def test_grad_of_several_outputs_adds_their_vjps():
    x = _w((3,), "x")
    u = np.array([1.0, -2.0, 0.5])
    (g,) = grad([x.exp(), (x * x).sum()], x, grad_outputs=[u, None])
    np.testing.assert_allclose(g.data, u * np.exp(x.data) + 2 * x.data)
    (twice,) = grad([x.sum(), x.sum()], x)  # the same output twice: counted twice
    np.testing.assert_array_equal(twice.data, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_one_output_object_listed_twice_counts_twice(create_graph):
    x = Tensor(3.0, requires_grad=True)
    y = x * x
    (g,) = grad([y, y], x, create_graph=create_graph)  # d(y + y)/dx = 2 * 2x
    assert g.item() == 12.0
    (g,) = grad([y, y], x, grad_outputs=[1.0, 0.5], create_graph=create_graph)
    assert g.item() == 9.0  # 1 * 6 + 0.5 * 6


def test_x_cubed_gives_3x2_then_6x_then_6_then_zero():
    x = Tensor(1.5, requires_grad=True)
    (d1,) = grad(x**3, x, create_graph=True)
    (d2,) = grad(d1, x, create_graph=True)
    (d3,) = grad(d2, x, create_graph=True)
    assert (d1.item(), d2.item(), d3.item()) == (3 * 1.5**2, 6 * 1.5, 6.0)
    assert d1.requires_grad and d2.requires_grad
    (d4,) = grad(d3, x, allow_unused=True)
    assert d4.item() == 0.0


@given(tensors(shape=(4,), min_value=-3.0, max_value=3.0))
def test_x_cubed_elementwise_property(x):
    t = Tensor(x, requires_grad=True)
    (g,) = grad((t**3).sum(), t, create_graph=True)
    (h,) = grad(g.sum(), t, create_graph=True)
    (third,) = grad(h.sum(), t)
    np.testing.assert_allclose(h.data, 6 * x, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(third.data, 6.0)


def test_create_graph_records_even_inside_no_grad():
    x = _w((2,), "x")
    y = (x**2).sum()
    with tg.no_grad():
        (g,) = grad(y, x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_array_equal(grad(g.sum(), x)[0].data, [2.0, 2.0])


def test_grad_outputs_that_require_grad_are_differentiated_through():
    x, u = _w((3,), "x"), Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = grad(x.exp(), x, grad_outputs=u, create_graph=True)  # u * exp(x)
    (du,) = grad(g.sum(), u)
    np.testing.assert_allclose(du.data, np.exp(x.data))


def test_recorded_backward_keeps_float32_and_casts_mixed_dtypes():
    w32 = Tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    c64 = np.array([2.0, 3.0])
    (g,) = grad((w32 * c64).exp().sum(), w32, create_graph=True)  # the output is float64
    (h,) = grad(g.sum(), w32)
    assert g.dtype == np.float32 and h.dtype == np.float32
    np.testing.assert_allclose(h.data, c64**2 * np.exp(w32.data * c64), rtol=1e-6)
    assert "cast" in {t.op for t in graph_of(g)}


def test_backward_ops_sit_in_the_backward_scope_per_order():
    x = _w((3,), "x")
    with tg.scope("loss"):
        y = (x.exp() * x).sum()
    (g,) = grad(y, x, create_graph=True)
    (h,) = grad(g.sum(), x, create_graph=True)
    scopes = {t.scope for t in graph_of(h) if t.op is not None}
    assert {"loss", "backward/loss", "backward/backward/loss"} <= scopes
    source = tg.viz.draw_graph(h).source
    assert "<B>backward</B>" in source and source.count("<B>backward</B>") >= 2
    assert source.count("#fbf1e4") == 1 and "#f6e4cc" in source  # backward's own colours
    assert "#fbf1e4" not in tg.viz.draw_graph(y).source


def test_broadcast_reduction_in_the_backward_is_recorded():
    a, b = _w((2, 3), "a"), _w((3,), "b")
    (gb,) = grad(((a * b) ** 2).sum(), b, create_graph=True)
    assert any(t.op == "sum" and t.scope.startswith("backward") for t in graph_of(gb))
    (hb,) = grad(gb.sum(), b)  # d/db sum_j 2 sum_i a_ij^2 b_j = 2 sum_i a_ij^2
    np.testing.assert_allclose(hb.data, 2 * (a.data**2).sum(axis=0))


def test_repeated_index_scatter_is_differentiable():
    x = _w((3,), "x")
    H = hessian(lambda x: (x[np.array([0, 0, 1])] ** 2).sum(), x)
    np.testing.assert_array_equal(H.data, np.diag([4.0, 2.0, 0.0]))


def test_mutation_guard_holds_for_recorded_gradients():
    x = _w((2,), "x")
    y = (x * x).sum()
    x.data = x.data + 1.0
    with pytest.raises(RuntimeError, match="changed in place after op 'mul'"):
        grad(y, x, create_graph=True)
    assert x._pg is None


def test_anomaly_mode_checks_recorded_gradients():
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt().sum()
    # the recorded VJP of sqrt, g / (2 sqrt(x)), is a div op in the scope "backward"
    with tg.detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(tg.AnomalyError, match=r"div: forward output holds 1 inf \(scope "
                                                 r"'backward'"):
        grad(y, x, create_graph=True)


# ---------------------------------------------------------------- bad input
def test_bad_input_gets_named_errors():
    x, c = _w((2,), "x"), Tensor([1.0, 2.0], name="c")
    with pytest.raises(RuntimeError, match=r"grad: output 0 of shape \(2,\) is not a scalar; "
                                           r"pass grad_outputs= \(one array of that shape per "
                                           r"output\) or reduce it first \(e\.g\. \.sum\(\)\)$"):
        grad(x * 2, x)
    with pytest.raises(RuntimeError, match=r"grad: input 0 \('c'\) .* does not require grad"):
        grad((x * c).sum(), c)
    z = _w((2,), "z")
    with pytest.raises(RuntimeError, match=r"input 1 \('z'\) .* is not in the graph.*"
                                           "allow_unused=True"):
        grad((x * x).sum(), [x, z])
    gx, gz = grad((x * x).sum(), [x, z], allow_unused=True)
    np.testing.assert_array_equal(gz.data, [0.0, 0.0])
    with pytest.raises(TypeError, match="grad: outputs must be a Tensor"):
        grad(np.ones(2), x)
    with pytest.raises(TypeError, match="grad: inputs must be .* non-empty"):
        grad(x.sum(), [])
    with pytest.raises(ValueError, match=r"grad: grad_outputs\[0\] has shape \(3,\), expected"):
        grad(x * 2, x, grad_outputs=np.ones(3))
    with pytest.raises(ValueError, match="one entry per output"):
        grad([x.sum(), x.sum()], x, grad_outputs=[None])


def test_differentiating_a_plain_gradient_says_to_pass_create_graph():
    x = _w((2,), "x")
    (g,) = grad((x**3).sum(), x)
    with pytest.raises(RuntimeError, match="made from gradients of grad.*pass create_graph=True"):
        grad(g.sum(), x)  # made from a plain gradient: the message says what to do too
    with pytest.raises(RuntimeError, match="without create_graph=True.*pass create_graph=True"):
        grad(g, x, grad_outputs=np.ones(2))
    with pytest.raises(RuntimeError, match="backward: this tensor is a gradient taken without "
                                           "create_graph=True"):
        g.backward(np.ones(2))


def test_a_constant_gradient_is_an_error_or_zeros():
    x = _w((2,), "x")
    (g,) = grad((3 * x).sum(), x, create_graph=True)  # constant 3
    assert not g.requires_grad
    with pytest.raises(RuntimeError, match="no tensor it depends on requires grad.*"
                                           "allow_unused=True"):
        grad(g, x, grad_outputs=np.ones(2))
    (h,) = grad(g, x, grad_outputs=np.ones(2), allow_unused=True)
    np.testing.assert_array_equal(h.data, 0.0)


def test_helpers_name_their_bad_input():
    f = lambda w: (w * w).sum()
    with pytest.raises(ValueError, match=r"hvp: f must return a scalar, got a Tensor of shape"):
        hvp(lambda w: w * 2, Tensor([1.0, 2.0]), np.ones(2))
    with pytest.raises(ValueError, match=r"hvp: v\[0\] has shape \(3,\), expected \(2,\)"):
        hvp(f, Tensor([1.0, 2.0]), np.ones(3))
    with pytest.raises(ValueError, match="hvp: v must hold one direction per input"):
        hvp(lambda a, b: (a * b).sum(), [Tensor([1.0]), Tensor([2.0])], [np.ones(1)])
    with pytest.raises(TypeError, match="hessian: f must be callable"):
        hessian("f", Tensor([1.0]))
    with pytest.raises(TypeError, match="jacobian: f must return a Tensor"):
        jacobian(lambda x: 1.0, Tensor([1.0]))
    with pytest.raises(TypeError, match="hvp: input 0 must hold floats"):
        hvp(f, Tensor([1, 2], dtype=np.int64), np.ones(2))


# ---------------------------------------------------------------- closed forms
@given(tensors(shape=(3, 2), min_value=-2.0, max_value=2.0), st.floats(1e-3, 10.0))
def test_hessian_of_reg_l2_is_2_reg_identity(W, reg):
    H = hessian(lambda w: reg * l2(w), W)
    np.testing.assert_allclose(H.data.reshape(6, 6), 2 * reg * np.eye(6), rtol=1e-14)


@given(score_matrices(margin_gap=0.05), st.data())
def test_softmax_cross_entropy_hvp_is_diag_p_minus_ppT(batch, data):
    s, y = batch
    v = data.draw(tensors(shape=s.shape, min_value=-1.0, max_value=1.0))
    value, hv = hvp(lambda t: softmax_loss(t, y), Tensor(s), v)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    # per example (diag(p) - p p^T) v, averaged over the N examples
    want = (p * v - p * (p * v).sum(axis=1, keepdims=True)) / len(y)
    np.testing.assert_allclose(hv.data, want, rtol=1e-10, atol=1e-14)
    assert value.item() == pytest.approx(softmax_loss(s, y).item(), rel=1e-15)


@given(score_matrices(margin_gap=0.05))
def test_svm_loss_hessian_is_zero_away_from_kinks(batch):
    s, y = batch
    H = hessian(lambda t: svm_loss(t, y), s)
    assert H.shape == s.shape + s.shape
    np.testing.assert_array_equal(H.data, 0.0)


@given(classification_batches(margin_gap=0.05), st.floats(1e-3, 1.0))
def test_full_linear_losses_match_autograd_hvps(batch, reg):
    X, y, W = batch
    v = np.random.default_rng(0).standard_normal(W.shape)
    _, hv_svm = hvp(lambda w: svm_loss(Tensor(X) @ w, y) + reg * l2(w), W, v)
    np.testing.assert_allclose(hv_svm.data, 2 * reg * v, rtol=1e-12)  # the hinge part is flat
    _, hv = hvp(lambda w: softmax_loss(Tensor(X) @ w, y) + reg * l2(w), W, v)

    def ref(w):
        s = X @ w
        logp = s - anp.log(anp.sum(anp.exp(s), axis=1, keepdims=True))
        return -anp.mean(logp[np.arange(len(y)), y]) + reg * anp.sum(w * w)

    np.testing.assert_allclose(hv.data, autograd.hessian_vector_product(ref)(W, v),
                               rtol=1e-10, atol=1e-13)


def test_jacobian_and_hessian_of_small_functions():
    x = np.array([0.3, -1.2, 2.0])
    J = jacobian(lambda t: t.softmax(), x)
    p = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(J.data, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)
    H = hessian(lambda t: t.logsumexp(), Tensor(x, name="x"))
    np.testing.assert_allclose(H.data, J.data, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(jacobian(lambda t: Tensor(np.ones(2)), x).data, 0.0)


def test_hvp_of_several_inputs_and_its_value():
    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    value, (ha, hb) = hvp(lambda a, b: (a * a * b).sum(), [a, b], [np.ones(2), np.zeros(2)])
    assert value.item() == -3.5 and not value.requires_grad
    np.testing.assert_array_equal(ha.data, 2 * b)  # d2/da2 = 2 b
    np.testing.assert_array_equal(hb.data, 2 * a)  # d2/dbda = 2 a
    W = _w()
    hvp(lambda w: (w**3).sum(), W, np.ones(W.shape))
    assert W.grad is None  # the helpers work on leaves of their own


# ---------------------------------------------------------------- memory
def test_recorded_gradient_graphs_are_freed_by_refcount():
    W, X = _w(), Tensor(RNG.normal(size=(5, 3)))
    with gc_off():
        loss = softmax_loss(X @ W, np.array([0, 1, 1, 0, 1])) + l2(W)
        (g,) = grad(loss, W, create_graph=True)
        (h,) = grad((g * g).sum(), W, create_graph=True)
        refs = [weakref.ref(t) for t in graph_of(h) if t is not W and t is not X]
        assert len(refs) > 20
        del loss, g, h
        assert [r for r in refs if r() is not None] == []


def _hvp_steps(keep=None):
    W, X = _w((6, 3)), Tensor(RNG.normal(size=(8, 6)))
    y, v = RNG.integers(0, 3, size=8), RNG.normal(size=(6, 3))

    def f(w):
        loss = softmax_loss(X @ w, y) + 0.1 * l2(w)
        if keep is not None:
            keep.append(loss)  # the leak the check must see: a graph kept per call
        return loss

    return lambda: hvp(f, W, v)


def test_a_thousand_hvps_keep_memory_flat():
    gc.collect()
    early, late = peaks(_hvp_steps())
    assert late - early <= SLACK, (early, late)


def test_the_hvp_memory_check_sees_a_leak():
    early, late = peaks(_hvp_steps(keep=[]))
    assert late - early > 4 * SLACK, (early, late)


# ---------------------------------------------------------------- gradgradcheck


def test_gradgradcheck_passes_on_the_lecture_losses():
    X, y = RNG.normal(size=(4, 3)), np.array([0, 2, 1, 1])
    W = _w((3, 3))
    assert gradgradcheck(lambda w: softmax_loss(Tensor(X) @ w, y) + 0.5 * l2(w), W)
    assert gradgradcheck(lambda w: (Tensor(X) @ w).log_softmax(axis=1), W)  # non-scalar


def test_gradgradcheck_catches_a_second_derivative_cut_from_the_graph(monkeypatch):
    x = _w((3,), "x")
    assert gradgradcheck(lambda x: x.exp().sum(), x)
    monkeypatch.setitem(OPS, "exp", detached(OPS["exp"]))
    with pytest.raises(GradcheckError, match=r"gradgradcheck FAILED .*\n  'x' \(input 0\), "
                                             r"shape \(3,\): 3 of 3 entries fail"):
        gradgradcheck(lambda x: x.exp().sum(), x)
    assert gradgradcheck(lambda x: x.exp().sum(), x, raise_exception=False) is False


def test_gradgradcheck_checks_the_upstream_gradient_too():
    x = _w((2, 3), "x")
    report = gradgradcheck_report(lambda x: x.softmax(axis=1), x)
    assert report.passed and [c.label for c in report.inputs][-1].startswith("'grad_outputs'")
    assert report.upstream.shape == (2, 3) and report.directions[0].shape == (2, 3)


def test_gradgradcheck_reports_kinks_of_f_not_mismatches():
    x = Tensor([0.0, 1.0, -2.0], requires_grad=True, name="x")
    report = gradgradcheck_report(lambda x: (x.relu() ** 2).sum(), x)
    assert report.passed and [k.index for k in report.kinks] == [(0,)]
    assert report.kinks[0].op == "relu" and "1 coordinate(s) at a kink" in str(report)


def test_checks_of_non_scalar_results_difference_entry_by_entry():
    # e^20 dwarfs e^-5: summed before subtracting, the small entry's change is lost in the
    # rounding of the big one; subtracted entry by entry, it is exact
    x = Tensor([20.0, -5.0], requires_grad=True, name="x")
    assert tg.gradcheck.gradcheck(lambda x: x.exp(), x)
    assert gradgradcheck(lambda x: x.exp().sum(), x)


def test_gradgradcheck_names_its_bad_input():
    x = _w((2,), "x")
    with pytest.raises(ValueError, match="gradgradcheck: no input requires grad"):
        gradgradcheck(lambda x: x.sum(), Tensor([1.0]))
    with pytest.raises(ValueError, match=r"gradgradcheck: grad_outputs has shape \(3,\), "
                                         r"expected \(2,\)"):
        gradgradcheck(lambda x: x * 2, x, grad_outputs=np.ones(3))
    with pytest.raises(TypeError, match="gradgradcheck: f must return a Tensor"):
        gradgradcheck(lambda x: 1.0, x)


def test_assert_second_order_match_against_autograd_and_failing(monkeypatch):
    s = np.array([[0.5, -0.3, 1.2], [0.1, 0.9, -1.0]])
    assert_second_order_match(lambda t: t.log_softmax(axis=1), s,
                              reference=lambda v: v - anp.log(anp.sum(anp.exp(v), axis=1,
                                                                      keepdims=True)))
    with pytest.raises(AssertionError, match="differs from HIPS autograd"):
        assert_second_order_match(lambda t: (t**3).sum(), s, reference=lambda v: (v**4).sum())
    with pytest.raises(GradcheckError, match="strict: a step crossed a kink"):
        assert_second_order_match(lambda t: (t.relu() ** 2).sum(), np.array([0.0, 1.0]))
    monkeypatch.setitem(OPS, "log", detached(OPS["log"]))
    with pytest.raises(GradcheckError, match="gradgradcheck FAILED"):
        assert_second_order_match(lambda t: t.log().sum(), np.array([0.5, 2.0]))


# ---------------------------------------------------------------- argument forms and flags
@pytest.mark.parametrize("point", [[1.0, 2.0], (1.0, 2.0), np.array([1.0, 2.0]),
                                   Tensor([1.0, 2.0]), [1, 2]])
def test_hessian_jacobian_and_hvp_take_a_point_as_a_list_an_array_or_a_tensor(point):
    f = lambda x: (x**3).sum()
    np.testing.assert_array_equal(hessian(f, point).data, np.diag([6.0, 12.0]))
    np.testing.assert_array_equal(jacobian(lambda x: x * x, point).data, np.diag([2.0, 4.0]))
    value, hv = hvp(f, point, [1.0, 1.0])
    assert value.item() == 9.0 and hv.data.tolist() == [6.0, 12.0]


def test_a_number_is_a_point_too():
    assert hessian(lambda x: x**3, 2.0).data.item() == 12.0
    assert jacobian(lambda x: x**3, 2.0).data.item() == 12.0


def test_several_inputs_give_blocks_as_grad_gives_one_gradient_per_input():
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    f = lambda a, b: (a * a).sum() * b.sum()  # d2/da2 = 2b I, d2/dadb = 2a, d2/db2 = 0
    (Haa, Hab), (Hba, Hbb) = hessian(f, [a, b])
    np.testing.assert_array_equal(Haa.data, 6.0 * np.eye(2))
    np.testing.assert_array_equal(Hab.data, [[2.0], [4.0]])
    np.testing.assert_array_equal(Hba.data, [[2.0, 4.0]])
    np.testing.assert_array_equal(Hbb.data, [[0.0]])
    Ja, Jb = jacobian(lambda a, b: a * b, [Tensor(a), Tensor(b)])
    np.testing.assert_array_equal(Ja.data, 3.0 * np.eye(2))
    np.testing.assert_array_equal(Jb.data, [[1.0], [2.0]])
    with pytest.raises(TypeError, match="hessian: inputs mixes Tensors or arrays with other"):
        hessian(f, [a, 3.0])


@pytest.mark.parametrize("call", [
    lambda **kw: hessian(lambda x: Tensor(3.0), [1.0, 2.0], **kw),
    lambda **kw: hvp(lambda x: Tensor(3.0), [1.0, 2.0], [1.0, 0.0], **kw)[1],
])
def test_a_constant_function_is_an_error_or_zeros_with_allow_unused(call):
    with pytest.raises(RuntimeError, match=r"^(hessian|hvp): f's result does not depend on its "
                                           r"inputs.*pass allow_unused=True to get zeros"):
        call()
    np.testing.assert_array_equal(call(allow_unused=True).data, 0.0)


def test_an_unused_input_of_hessian_is_an_error_or_zeros():
    f = lambda a, b: (a * a).sum()
    with pytest.raises(RuntimeError, match=r"hessian: input 1 of shape \(1,\) is not in the "
                                           r"graph.*allow_unused=True"):
        hessian(f, [np.ones(2), np.ones(1)])
    (_, Hab), (_, Hbb) = hessian(f, [np.ones(2), np.ones(1)], allow_unused=True)
    assert not Hab.data.any() and not Hbb.data.any()


@pytest.mark.parametrize("call, flag", [
    (lambda x: grad((x * x).sum(), x, create_graph="no"), "grad: create_graph"),
    (lambda x: grad((x * x).sum(), x, allow_unused=1), "grad: allow_unused"),
    (lambda x: hessian(lambda t: (t * t).sum(), x, allow_unused="yes"), "hessian: allow_unused"),
    (lambda x: hvp(lambda t: (t * t).sum(), x, np.ones(2), allow_unused=None),
     "hvp: allow_unused"),
    (lambda x: tg.gradcheck.gradcheck(lambda t: t.sum(), x, raise_exception="no"),
     "gradcheck: raise_exception"),
    (lambda x: tg.gradcheck.gradcheck(lambda t: t.sum(), x, strict="yes"), "gradcheck: strict"),
    (lambda x: tg.gradcheck.gradcheck(lambda t: t.sum(), x, localize=1), "gradcheck: localize"),
    (lambda x: gradgradcheck(lambda t: (t * t).sum(), x, raise_exception=0),
     "gradgradcheck: raise_exception"),
])
def test_flags_must_be_bools(call, flag):
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=f"{flag} must be True or False"):
        call(x)


@pytest.mark.parametrize("tol", [float("inf"), float("nan"), -1.0, True, "0.1"])
@pytest.mark.parametrize("which", ["atol", "rtol"])
def test_tolerances_must_be_finite_numbers_at_least_0(tol, which):
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    for check in (tg.gradcheck.gradcheck, gradgradcheck):
        with pytest.raises(ValueError, match=f"{which} must be a finite number >= 0"):
            check(lambda t: (t**3).sum(), x, **{which: tol})


def test_gradgradcheck_with_rtol_inf_cannot_pass_a_wrong_second_derivative(monkeypatch):
    """exp's VJP made wrong when recorded (create_graph=True), right on arrays: gradcheck
    passes, gradgradcheck finds the wrong second derivative, and rtol=inf, which would pass
    any second derivative, is refused."""
    import dataclasses

    from tinygrad_lc.core.ops import NUMPY

    right = OPS["exp"].vjps[0]

    def wrong_when_recorded(B, g, out, a):
        return right(B, g, out, a) if B is NUMPY else right(B, g, out, a) * 1.5

    monkeypatch.setitem(OPS, "exp", dataclasses.replace(OPS["exp"],
                                                        vjps=(wrong_when_recorded,)))
    x = Tensor([0.3, -0.2], requires_grad=True, name="x")
    f = lambda t: t.exp().sum()
    assert tg.gradcheck.gradcheck(f, x)
    assert not gradgradcheck(f, x, raise_exception=False)
    with pytest.raises(ValueError, match="rtol must be a finite number >= 0, got inf"):
        gradgradcheck(f, x, rtol=float("inf"))


# ---------------------------------------------------------------------- found by make mutate
def test_jacobian_and_hessian_blocks_have_the_promoted_dtype_and_are_constants():
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    x64 = np.array([3.0, -1.0, 0.5])
    J = jacobian(lambda t: t * t, x32)
    H = hessian(lambda t: (t * t * t).sum(), x32)
    np.testing.assert_array_equal(J.data, np.diag([2.0, 4.0]))
    np.testing.assert_array_equal(H.data, np.diag([6.0, 12.0]))
    # several inputs: each block has the dtype of y and its input promoted together
    (Ja, Jb) = jacobian(lambda a, b: (a * Tensor(x64[:2])).sum() * b, [x32, x32])  # y float64
    (Ju, Jv) = jacobian(lambda a, b: b * b, [x64, x32])  # y float32; a unused: zeros
    assert [r.dtype for r in (J, H, Ja, Jb, Ju, Jv)] == \
        [np.float32, np.float32, np.float64, np.float64, np.float64, np.float32]
    np.testing.assert_array_equal(Ju.data, np.zeros((2, 3)))
    for r in (J, H, Ja, Jb, Ju, Jv):  # results, not nodes of a graph
        assert r.requires_grad is False and r.parents == () and r.is_leaf


@pytest.mark.parametrize("call, message", [
    (lambda: jacobian(3, [1.0]), "jacobian: f must be callable, got int"),
    (lambda: jacobian(lambda t: 3.0, [1.0]), "jacobian: f must return a Tensor, got float"),
    (lambda: jacobian(lambda t: t, ["a"]), "jacobian: unsupported data of dtype <U1"),
])
def test_jacobian_errors_name_it_and_what_came(call, message):
    with pytest.raises(TypeError) as info:
        call()
    assert str(info.value).startswith(message)


def test_hvp_of_a_constant_gives_constant_zeros():
    x = np.array([1.0, 2.0], dtype=np.float32)
    value, (hv,) = hvp(lambda t: Tensor(3.0), [x], [np.ones(2)], allow_unused=True)
    assert value.item() == 3.0 and hv.dtype == np.float32
    np.testing.assert_array_equal(hv.data, [0.0, 0.0])
    assert hv.requires_grad is False and hv.parents == () and hv.is_leaf


@pytest.mark.parametrize("call, error, message", [
    (lambda: hvp(lambda a, b: (a * b).sum(), [np.ones(2), np.ones(2)], 3.0), ValueError,
     "hvp: v must hold one direction per input (2)"),
    (lambda: hvp(lambda a: (a * a).sum(), np.ones(2), ["a", "b"]), TypeError, "hvp: "),
    (lambda: hvp(lambda a, b: (a * a).sum(), [np.ones(2), np.ones(2)], [np.ones(2)] * 2),
     RuntimeError, "hvp: input 1 of shape (2,) is not in the graph of the outputs"),
    (lambda: hvp(lambda a, b: (a * a).sum(), [Tensor(np.ones(2), name="a"),
                                               Tensor(np.ones(2), name="b")], [np.ones(2)] * 2),
     RuntimeError, "hvp: input 1 ('b') of shape (2,) is not in the graph"),  # names kept
    (lambda: hvp(3, np.ones(2), np.ones(2)), TypeError, "hvp: f must be callable, got int"),
    (lambda: hvp(lambda a: 3.0, np.ones(2), np.ones(2)), TypeError,
     "hvp: f must return a Tensor, got float"),
])
def test_hvp_errors_name_it_and_what_came(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message)



def test_hvp_of_an_f_linear_in_one_input_gives_zeros_for_it():
    a, b = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    _, (ha, hb) = hvp(lambda a, b: (a * a).sum() + b.sum(), [a, b], [np.ones(2), np.ones(2)])
    np.testing.assert_array_equal(ha.data, [2.0, 2.0])  # H = diag(2, 2, 0, 0)
    np.testing.assert_array_equal(hb.data, [0.0, 0.0])


MIXED = ("hessian: inputs mixes Tensors or arrays with other items; pass one point (a Tensor, an "
         "array or a list of numbers) or a list of Tensors or arrays, one per argument of f")
NOT_INPUTS = ("hessian: inputs must be a Tensor, an array, a list of numbers or a non-empty "
              "sequence of Tensors or arrays, got ")


@pytest.mark.parametrize("inputs, message", [
    ([Tensor([1.0]), 2.0], MIXED),
    ({1.0, 2.0}, NOT_INPUTS + "set"),
    ([], NOT_INPUTS + "list"),
    ("ab", NOT_INPUTS + "str"),
])
def test_what_is_not_a_point_or_a_list_of_inputs_is_named(inputs, message):
    with pytest.raises(TypeError) as info:
        hessian(lambda t: (t * t).sum(), inputs)
    assert str(info.value) == message


OUTPUTS = "grad: outputs must be a Tensor or a non-empty sequence of Tensors, got "


@pytest.mark.parametrize("outputs, got", [
    (3.0, "float"), ("ab", "str"), ([], "an empty sequence"),
    ([Tensor(1.0), 3.0, 2], "a sequence of Tensor, float, int"),
])
def test_grad_names_what_came_instead_of_outputs(outputs, got):
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError) as info:
        grad(outputs, x)
    assert str(info.value) == OUTPUTS + got


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_results_are_constants_owning_their_arrays(create_graph):
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    s = Tensor(2.0, requires_grad=True)  # 0-d: NumPy would hand back a scalar
    unused = Tensor([5.0], requires_grad=True)
    y = x.reshape(4).sum() * s  # the reshape's VJP gives a view of the upstream gradient
    gx, gs, gx2, gu = grad(y, [x, s, x, unused], create_graph=create_graph, allow_unused=True)
    np.testing.assert_array_equal(gx.data, np.full((2, 2), 2.0))
    assert gs.item() == 10.0 and gu.data.tolist() == [0.0]
    for g in (gx, gs, gx2, gu):
        assert type(g.data) is np.ndarray
        if not create_graph:  # recorded results are nodes of the gradient's graph
            assert g.data.base is None and g.requires_grad is False and g.parents == ()
            assert g.data.flags.writeable
    if not create_graph:
        assert gx.data is not gx2.data  # an input listed twice: two arrays
    assert gu.requires_grad is False and gu.parents == ()  # zeros are constants either way


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_outputs_are_cast_to_the_outputs_dtype_and_never_written(create_graph, as_tensor,
                                                                       dtype):
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x + x * 3.0  # add hands its upstream gradient to x as is, then 3 g is added to it
    go = np.array([1.0, 0.5], dtype=dtype)
    (g,) = grad(y, x, grad_outputs=Tensor(go) if as_tensor else go, create_graph=create_graph)
    assert g.dtype == np.float32 and g.data.tolist() == [4.0, 2.0]
    assert go.tolist() == [1.0, 0.5]  # the caller's array is not written into


def test_a_constant_gradient_recorded_does_not_require_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for go in (None, np.ones(())):
        (g,) = grad((x * 2.0).sum(), x, grad_outputs=go, create_graph=True)
        assert g.data.tolist() == [2.0, 2.0] and g.requires_grad is False
        with pytest.raises(RuntimeError, match="does not require grad"):
            grad(g.sum(), x)


def test_bad_grad_outputs_data_is_named():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as info:
        grad(x * 2.0, x, grad_outputs=["a", "b"])
    assert str(info.value).startswith("grad: ")


def _grad_error_cases():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    c, u = Tensor([1.0, 2.0], name="c"), Tensor([1.0], requires_grad=True)
    (g,) = grad((x * x).sum(), x)  # a plain gradient: no graph
    return [
        (lambda: grad((x * c).sum(), c), "grad: input 0 ('c') of shape (2,) does not require "
         "grad; create it with requires_grad=True (and not inside no_grad())"),
        (lambda: grad(g, x, grad_outputs=np.ones(2)), "grad: output 0 of shape (2,) is a "
         "gradient taken without create_graph=True, so no graph of it was recorded; pass "
         "create_graph=True to the grad() call that made it to differentiate it again"),
        (lambda: grad(c.sum(), x), "grad: output 0 of shape () does not require grad: no "
         "tensor it depends on requires grad. If it is made from gradients of grad(), pass "
         "create_graph=True to that call to differentiate them again; a gradient that is "
         "constant in the inputs (as of a linear function) has derivative 0: pass "
         "allow_unused=True to get zeros"),
        (lambda: grad((x * x).sum(), [x, u]), "grad: input 1 of shape (1,) is not in the graph "
         "of the outputs (they do not depend on it); pass allow_unused=True to get zeros for "
         "it"),
        (lambda: grad([x.sum(), x.sum()], x, grad_outputs=[1.0]),
         "grad: grad_outputs must hold one entry per output (2)"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_grad_errors_say_what_to_do_in_full(case):
    call, message = _grad_error_cases()[case]
    with pytest.raises((RuntimeError, ValueError)) as info:
        call()
    assert str(info.value) == message
