"""Tests of tinygrad_lc/losses.py: lecture numbers, NumPy formulas, gradients, validation.

Gradients are checked against float64 central differences and HIPS autograd on random batches
built clear of every hinge kink: each wrong-class margin s_j - s_y + delta is drawn with
|margin| >= GAP, so a step of H never crosses max(0, .).
"""

from __future__ import annotations

import itertools
import math
import runpy
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lc.core.tensor as engine
from tinygrad_lc import Tensor
from tinygrad_lc.gradcheck import gradcheck, numerical_gradient
from tinygrad_lc.losses import softmax_loss, svm_loss

ROOT = Path(__file__).resolve().parent.parent
GAP = 0.05  # every hinge margin is at least this far from 0
H = 1e-6  # central-difference step, far below GAP
FD = {"rtol": 1e-6, "atol": 1e-8}  # piecewise linear/quadratic: only round-off remains
AG = {"rtol": 1e-10, "atol": 1e-12}

# the lecture's score table: one row per image (cat, car, frog), columns are classes
LECTURE = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LECTURE_Y = np.array([0, 1, 2])
OPTIONS = list(itertools.product([False, True], [False, True], ["sum", "mean"],
                                 ["mean", "sum", "none"]))


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------- strategies: kink-free by design
@st.composite
def svm_batches(draw, delta=None, max_n=5, max_c=5):
    """(scores, y, delta): wrong-class margins s_j - s_y + delta have |margin| in [GAP, 3]."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    delta = draw(st.sampled_from([0.0, 0.5, 1.0, 2.5])) if delta is None else delta
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    base = draw(hnp.arrays(np.float64, n, elements=floats(-3, 3)))
    size = draw(hnp.arrays(np.float64, (n, c), elements=floats(GAP, 3)))
    positive = draw(hnp.arrays(np.bool_, (n, c)))
    margins = np.where(positive, size, -size)
    scores = base[:, None] + margins - delta
    scores[np.arange(n), y] = base
    return scores, y, delta


@st.composite
def linear_batches(draw, delta=1.0):
    """(X, W, b, y) whose scores X @ W + b are an svm_batches draw (up to ~1e-13).

    X = [a I_N | A] has full row rank by construction, so W solves X W = S - b exactly.
    """
    scores, y, _ = draw(svm_batches(delta=delta, max_n=4, max_c=4))
    n, c = scores.shape
    d = n + draw(st.integers(0, 3))
    X = draw(hnp.arrays(np.float64, (n, d), elements=floats(-1, 1)))
    X[:, :n] = np.diag(draw(hnp.arrays(np.float64, n, elements=floats(1, 2))))
    b = draw(hnp.arrays(np.float64, c, elements=floats(-1, 1)))
    W = np.linalg.lstsq(X, scores - b, rcond=None)[0]
    return X, W, b, y


# ---------------------------------------------------------------- NumPy and autograd references
def svm_numpy(s, y, delta=1.0, squared=False, include_correct=False, class_reduction="sum",
              reduction="mean"):
    """The formula, written out row by row."""
    n, c = s.shape
    per = np.empty(n)
    for i in range(n):
        terms = [max(0.0, s[i, j] - s[i, y[i]] + delta) for j in range(c)
                 if include_correct or j != y[i]]
        terms = [t * t for t in terms] if squared else terms
        per[i] = sum(terms) / (len(terms) if class_reduction == "mean" else 1)
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


def svm_autograd(s, y, delta, squared, include_correct, class_reduction, reduction):
    n, c = s.shape
    correct = s[np.arange(n), y][:, None]
    hinge = anp.maximum(0.0, s - correct + delta)
    hinge = hinge**2 if squared else hinge
    keep = np.ones((n, c)) if include_correct else 1.0 - np.eye(c)[y]
    per = anp.sum(hinge * keep, axis=1)
    per = per / (np.sum(keep[0])) if class_reduction == "mean" else per
    return {"mean": anp.mean, "sum": anp.sum, "none": lambda a: a}[reduction](per)


def softmax_numpy(s, y, reduction="mean"):
    per = np.array([math.log(sum(math.exp(v - row.max()) for v in row)) + row.max() - row[k]
                    for row, k in zip(s, y)])
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


def softmax_autograd(s, y, reduction):
    m = anp.max(s, axis=1, keepdims=True)
    lse = anp.log(anp.sum(anp.exp(s - m), axis=1)) + m[:, 0]
    per = lse - s[np.arange(s.shape[0]), y]
    return {"mean": anp.mean, "sum": anp.sum, "none": lambda a: a}[reduction](per)


# ---------------------------------------------------------------- the lecture's numbers
def test_lecture_svm_table():
    per = svm_loss(LECTURE, LECTURE_Y, reduction="none").data
    np.testing.assert_allclose(per, [2.9, 0.0, 12.9], atol=1e-12)
    assert per[1] == 0.0  # the car's loss is exactly zero, not a rounding residue
    assert round(svm_loss(LECTURE, LECTURE_Y).item(), 2) == 5.27


def test_lecture_doubling_keeps_car_at_zero():
    assert svm_loss(2 * LECTURE, LECTURE_Y, reduction="none").data[1] == 0.0


def test_lecture_variants():
    inc = svm_loss(LECTURE, LECTURE_Y, include_correct=True)
    assert round(inc.item(), 2) == 6.27  # mean 5.27 plus delta
    sq = svm_loss(LECTURE, LECTURE_Y, squared=True, reduction="none").data
    np.testing.assert_allclose(sq, [2.9**2, 0.0, 6.3**2 + 6.6**2], rtol=1e-12)
    avg = svm_loss(LECTURE, LECTURE_Y, class_reduction="mean", reduction="none").data
    np.testing.assert_allclose(avg, [1.45, 0.0, 6.45], rtol=1e-12)
    avg_inc = svm_loss(LECTURE, LECTURE_Y, include_correct=True, class_reduction="mean",
                       reduction="none").data
    np.testing.assert_allclose(avg_inc, [3.9 / 3, 1 / 3, 13.9 / 3], rtol=1e-12)
    sq_inc = svm_loss(LECTURE, LECTURE_Y, squared=True, include_correct=True, delta=2.0,
                      reduction="none").data
    assert sq_inc[1] == pytest.approx(4.0 + 0.0)  # the car adds delta**2 only


def test_lecture_softmax_cat():
    p = Tensor(LECTURE[:1]).softmax(axis=1).data[0]
    np.testing.assert_allclose(p.round(2), [0.13, 0.87, 0.00])
    loss = softmax_loss(LECTURE[:1], [0]).item()
    assert loss == pytest.approx(-math.log(p[0]), rel=1e-12)
    assert round(loss, 2) == 2.04
    assert round(-math.log10(p[0]), 2) == 0.89  # the slide's 0.89 is the base-10 logarithm


def test_lecture_four_pixel_example():
    W = np.array([[0.01, -0.05, 0.1, 0.05], [0.7, 0.2, 0.05, 0.16], [0.0, -0.45, -0.2, 0.03]])
    x = np.array([-15.0, 22.0, -44.0, 56.0])
    b = np.array([0.0, 0.2, -0.3])
    scores = (Tensor(x) @ Tensor(W).T + Tensor(b)).reshape(1, 3)
    np.testing.assert_allclose(scores.data[0], [-2.85, 0.86, 0.28], atol=1e-12)
    assert svm_loss(scores, [2]).item() == pytest.approx(1.58, abs=1e-12)
    ce = softmax_loss(scores, [2]).item()
    assert round(ce, 2) == 1.04
    assert round(ce / math.log(10), 3) == 0.452  # the slide's value is in base 10


@pytest.mark.parametrize("c", [2, 3, 10, 100])
def test_initial_loss_sanity(c):
    zeros = np.zeros((7, c))
    y = np.arange(7) % c
    assert svm_loss(zeros, y).item() == c - 1
    assert svm_loss(zeros, y, delta=0.5).item() == pytest.approx(0.5 * (c - 1))
    assert softmax_loss(zeros, y).item() == pytest.approx(math.log(c), rel=1e-14)


def test_svm_zero_softmax_not():
    s = np.array([[10.0, -2.0, 3.0], [10.0, 9.0, 9.0], [10.0, -100.0, -100.0]])
    y = np.zeros(3, dtype=np.int64)
    assert np.all(svm_loss(s, y, reduction="none").data == 0.0)
    soft = softmax_loss(s, y, reduction="none").data
    np.testing.assert_allclose(soft[:2], [math.log1p(math.exp(-12) + math.exp(-7)),
                                          math.log1p(2 * math.exp(-1))], rtol=1e-9)
    assert soft[0] == pytest.approx(9.1e-4, rel=1e-2) and soft[1] == pytest.approx(0.5514, 1e-4)
    assert 0.0 <= soft[2] < 1e-40  # 2 e^-110 is lost next to 1 in floating point


def test_margin_exactly_zero_gets_no_gradient():
    # [10, 9, 9] with delta 1: both margins are exactly 0, max(0, .) has derivative 0 there
    s = Tensor([[10.0, 9.0, 9.0]], requires_grad=True)
    svm_loss(s, [0]).backward()
    assert np.all(s.grad == 0.0)


# ---------------------------------------------------------------- against direct formulas
@pytest.mark.parametrize("squared,include_correct,class_reduction,reduction", OPTIONS)
@given(s=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=floats(-5, 5)),
       delta=st.sampled_from([0.0, 0.5, 1.0, 3.0]), data=st.data())
def test_svm_matches_formula(squared, include_correct, class_reduction, reduction, s, delta,
                             data):
    n, c = s.shape
    if c == 1 and class_reduction == "mean" and not include_correct:
        return  # refused: averaging over no wrong class (tested below)
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    kw = dict(delta=delta, squared=squared, include_correct=include_correct,
              class_reduction=class_reduction, reduction=reduction)
    out = svm_loss(s, y, **kw)
    ref = svm_numpy(s, y, **kw)
    assert out.shape == (() if reduction != "none" else (n,))
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)
    assert np.all(out.data >= 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(s=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=floats(-30, 30)), data=st.data())
def test_softmax_matches_formula(reduction, s, data):
    y = data.draw(hnp.arrays(np.int64, s.shape[0], elements=st.integers(0, s.shape[1] - 1)))
    out = softmax_loss(s, y, reduction=reduction)
    np.testing.assert_allclose(out.data, softmax_numpy(s, y, reduction), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(dtype):
    s = Tensor(LECTURE.astype(dtype), requires_grad=True)
    for loss in (svm_loss(s, LECTURE_Y, squared=True), softmax_loss(s, LECTURE_Y)):
        assert loss.dtype == dtype
        s.grad = None
        loss.backward()
        assert s.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
@given(s=hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=5),
                    elements=st.integers(0, 5)),
       options=st.sampled_from(OPTIONS), delta=st.sampled_from([0.5, 1.0, 2.25]), data=st.data())
def test_integer_scores_compute_in_float64_like_numpy(dtype, s, options, delta, data):
    # delta is a float: integer scores must not truncate it (NumPy promotes to float64), and
    # unsigned ones must not wrap around in s_j - s_y
    s = s.astype(dtype)
    y = data.draw(hnp.arrays(np.int64, s.shape[0], elements=st.integers(0, s.shape[1] - 1)))
    squared, include_correct, class_reduction, reduction = options
    kw = dict(delta=delta, squared=squared, include_correct=include_correct,
              class_reduction=class_reduction, reduction=reduction)
    out = svm_loss(Tensor(s, dtype=dtype), y, **kw)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, svm_numpy(s.astype(np.float64), y, **kw), rtol=1e-12)
    out = softmax_loss(Tensor(s, dtype=dtype), y, reduction=reduction)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, softmax_numpy(s.astype(np.float64), y, reduction),
                               rtol=1e-12)


def test_the_int64_svm_reproducer_gives_1_5():
    assert svm_loss(Tensor([[1, 2]], dtype=np.int64), [0], delta=0.5).item() == 1.5


# ---------------------------------------------------------------- gradients
def _svm_kwargs(data, squared, include_correct, delta):
    return dict(delta=delta, squared=squared, include_correct=include_correct,
                class_reduction=data.draw(st.sampled_from(["sum", "mean"]), label="class_red"),
                reduction=data.draw(st.sampled_from(["mean", "sum", "none"]), label="reduction"))


def _backward(out: Tensor, u: np.ndarray) -> None:
    out.backward(u.reshape(out.shape))


@pytest.mark.parametrize("squared,include_correct", list(itertools.product([False, True],
                                                                           repeat=2)))
@given(batch=svm_batches(), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_svm_grad_wrt_scores(squared, include_correct, batch, data, seed):
    s0, y, delta = batch
    kw = _svm_kwargs(data, squared, include_correct, delta)
    n = s0.shape[0]
    u = np.random.default_rng(seed).standard_normal(n if kw["reduction"] == "none" else ())
    s = Tensor(s0, requires_grad=True)
    _backward(svm_loss(s, y, **kw), u)

    x = s0.copy()
    numeric = numerical_gradient(lambda: float(np.sum(u * svm_loss(x, y, **kw).data)), x, h=H)
    np.testing.assert_allclose(s.grad, numeric, **FD)
    reference = grad(lambda a: anp.sum(u * svm_autograd(a, y, **kw)))(s0)
    np.testing.assert_allclose(s.grad, reference, **AG)


@given(batch=linear_batches(), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_svm_grad_through_linear_scores(batch, data, seed):
    X, W0, b0, y = batch
    kw = _svm_kwargs(data, data.draw(st.booleans()), data.draw(st.booleans()), 1.0)
    u = np.random.default_rng(seed).standard_normal(len(y) if kw["reduction"] == "none" else ())
    W, b = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    _backward(svm_loss(Tensor(X) @ W + b, y, **kw), u)

    Wx, bx = W0.copy(), b0.copy()
    f = lambda: float(np.sum(u * svm_loss(X @ Wx + bx, y, **kw).data))
    np.testing.assert_allclose(W.grad, numerical_gradient(f, Wx, h=H), **FD)
    np.testing.assert_allclose(b.grad, numerical_gradient(f, bx, h=H), **FD)
    ref = lambda Wa, ba: anp.sum(u * svm_autograd(anp.dot(X, Wa) + ba, y, **kw))
    np.testing.assert_allclose(W.grad, grad(ref, 0)(W0, b0), **AG)
    np.testing.assert_allclose(b.grad, grad(ref, 1)(W0, b0), **AG)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(s0=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=5),
                     elements=floats(-8, 8)), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_softmax_grad_wrt_scores(reduction, s0, data, seed):
    n, c = s0.shape
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    u = np.random.default_rng(seed).standard_normal(n if reduction == "none" else ())
    s = Tensor(s0, requires_grad=True)
    _backward(softmax_loss(s, y, reduction=reduction), u)

    x = s0.copy()
    f = lambda: float(np.sum(u * softmax_loss(x, y, reduction=reduction).data))
    np.testing.assert_allclose(s.grad, numerical_gradient(f, x, h=H), rtol=1e-5, atol=1e-8)
    reference = grad(lambda a: anp.sum(u * softmax_autograd(a, y, reduction)))(s0)
    np.testing.assert_allclose(s.grad, reference, **AG)


@given(batch=linear_batches(), seed=st.integers(0, 2**32 - 1))
def test_softmax_grad_through_linear_scores(batch, seed):
    X, W0, b0, y = batch
    u = np.random.default_rng(seed).standard_normal(len(y))
    W, b = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    _backward(softmax_loss(Tensor(X) @ W + b, y, reduction="none"), u)
    ref = lambda Wa, ba: anp.sum(u * softmax_autograd(anp.dot(X, Wa) + ba, y, "none"))
    np.testing.assert_allclose(W.grad, grad(ref, 0)(W0, b0), **AG)
    np.testing.assert_allclose(b.grad, grad(ref, 1)(W0, b0), **AG)
    Wx = W0.copy()
    f = lambda: float(np.sum(u * softmax_loss(X @ Wx + b0, y, reduction="none").data))
    np.testing.assert_allclose(W.grad, numerical_gradient(f, Wx, h=H), rtol=1e-5, atol=1e-8)


@given(batch=svm_batches())
def test_gradcheck_strict_finds_no_kink(batch):
    # the excluded correct class sits at a constant margin of -1, away from relu's kink
    s0, y, delta = batch
    s = Tensor(s0, requires_grad=True)
    assert gradcheck(lambda t: svm_loss(t, y, delta=delta), s, strict=True)
    with engine.kink_log() as log:
        svm_loss(s0, y, delta=delta)
    states = [state for name, _, state in log if name == "relu"]
    assert states and all(np.all(st_ != 0) for st_ in states)


def test_extreme_scores_are_exact_and_finite():
    s = Tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], requires_grad=True)
    loss = softmax_loss(s, [1, 0], reduction="none")
    np.testing.assert_array_equal(loss.data, [2e4, 2e4 + math.log(2)])
    loss.backward(np.ones(2))
    assert np.all(np.isfinite(s.grad))
    np.testing.assert_allclose(s.grad, [[1, -1, 0], [-1, 0.5, 0.5]], atol=1e-15)
    s.grad = None
    svm = svm_loss(s, [1, 0], squared=True)
    svm.backward()
    assert np.isfinite(svm.item()) and np.all(np.isfinite(s.grad))


# ---------------------------------------------------------------- inputs, scopes, validation
def test_label_forms_agree():
    ref = svm_loss(LECTURE, LECTURE_Y).item()
    for y in ([0, 1, 2], np.array([0, 1, 2], dtype=np.int32), np.array([0, 1, 2], np.uint8),
              Tensor(LECTURE_Y, dtype=np.int64)):
        assert svm_loss(LECTURE, y).item() == ref
        assert softmax_loss(Tensor(LECTURE), y).item() == softmax_loss(LECTURE, LECTURE_Y).item()


def test_scopes_name_the_loss_ops():
    s = Tensor(LECTURE, requires_grad=True)
    loss = svm_loss(s, LECTURE_Y)
    assert loss.scope == "svm_loss"
    margins = loss.parents[0].parents[0].parents[0]
    assert margins.scope == "svm_loss/margins"
    assert softmax_loss(s, LECTURE_Y).scope == "softmax_loss"


def test_scores_without_grad_give_plain_tensor():
    out = svm_loss(LECTURE, LECTURE_Y)
    assert isinstance(out, Tensor) and not out.requires_grad


BAD_LABELS = [
    ([0, 1], "shape (3,)"),  # wrong length
    (np.array([0.0, 1.0, 2.0]), "must be integers, got dtype float64"),
    (Tensor([0.0, 1.0, 2.0]), "dtype=np.int64"),
    ([0, 1, 3], "[0, 2]"),
    ([0, -1, 2], "first bad: y[1] = -1"),
    (np.array([[0], [1], [2]]), "got (3, 1)"),
    ([True, False, True], "must be integers"),
    (["a", "b", "c"], "must be integers"),
]


@pytest.mark.parametrize("fn", [svm_loss, softmax_loss])
@pytest.mark.parametrize("y,text", BAD_LABELS)
def test_bad_labels(fn, y, text):
    with pytest.raises(ValueError, match=fn.__name__) as info:
        fn(LECTURE, y)
    assert text in str(info.value)


def test_integral_floats_get_a_hint():
    with pytest.raises(ValueError, match=r"whole numbers.*astype\(np.int64\)"):
        svm_loss(LECTURE, np.array([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("fn", [svm_loss, softmax_loss])
@pytest.mark.parametrize("scores,text", [
    (np.zeros(3), "2-D"), (np.zeros((2, 3, 1)), "2-D"), (np.zeros((0, 3)), "no examples"),
    (np.array([[0.0, np.nan]]), "NaN or infinite"), (np.array([[0.0, np.inf]]), "NaN"),
])
def test_bad_scores(fn, scores, text):
    with pytest.raises(ValueError, match=fn.__name__) as info:
        fn(scores, [0] * (len(scores) if scores.ndim else 1))
    assert text in str(info.value)


@pytest.mark.parametrize("kw,error,text", [
    ({"delta": -1.0}, ValueError, ">= 0, got -1.0"),
    ({"delta": float("nan")}, ValueError, "got nan"),
    ({"delta": "1"}, TypeError, "real number"),
    ({"reduction": "avg"}, ValueError, "'mean', 'sum', 'none', got 'avg'"),
    ({"class_reduction": "max"}, ValueError, "'sum', 'mean', got 'max'"),
    ({"squared": 1}, TypeError, "True or False"),
    ({"include_correct": None}, TypeError, "True or False"),
])
def test_bad_svm_options(kw, error, text):
    with pytest.raises(error, match="svm_loss") as info:
        svm_loss(LECTURE, LECTURE_Y, **kw)
    assert text in str(info.value)


def test_bad_softmax_reduction():
    with pytest.raises(ValueError, match="softmax_loss: reduction must be one of"):
        softmax_loss(LECTURE, LECTURE_Y, reduction="batchmean")


def test_class_mean_needs_a_wrong_class():
    with pytest.raises(ValueError, match="svm_loss: class_reduction='mean'"):
        svm_loss(np.zeros((2, 1)), [0, 0], class_reduction="mean")
    assert svm_loss(np.zeros((2, 1)), [0, 0]).item() == 0.0


def test_scores_of_wrong_type():
    with pytest.raises(TypeError, match="svm_loss: scores"):
        svm_loss("scores", [0])


# ---------------------------------------------------------------- the example script
def test_example_02_prints_the_lecture_table(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    runpy.run_path(str(ROOT / "examples" / "02_lecture_losses.py"), run_name="__main__")
    out = capsys.readouterr().out
    for text in ["2.90", "0.00", "12.90", "5.27", "6.27", "2.04", "0.89", "base-10",
                 "1.58", "1.04", "0.452", "-2.85", "0.86", "0.28", "2.3026", "0.5514"]:
        assert text in out, text


def test_check_labels_accepts_zero_labels_for_zero_rows():
    from tinygrad_lc.losses import check_labels

    empty = np.array([], dtype=np.int64)
    assert check_labels("svm_loss", empty, 0, 3) is empty  # min() of nothing used to fail
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        check_labels("svm_loss", empty, 2, 3)
    with pytest.raises(ValueError, match="must be integers"):
        check_labels("svm_loss", [], 0, 3)  # still the dtype check first


def test_data_loss_looks_up_each_loss_by_name():
    from tinygrad_lc.losses import LOSSES, data_loss

    s, y = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0]]), [0, 1]
    assert LOSSES == ("svm", "softmax")
    assert data_loss("svm", s, y, delta=2.0).item() == svm_loss(s, y, delta=2.0).item()
    assert data_loss("softmax", s, y).item() == softmax_loss(s, y).item()
    with pytest.raises(ValueError, match="data_loss: name must be one of 'svm', 'softmax'"):
        data_loss("hinge", s, y)


def test_labels_that_are_not_an_array_are_a_value_error():
    with pytest.raises(ValueError, match="svm_loss: cannot read labels y"):
        svm_loss(np.zeros((2, 3)), [[0], [1, 2]])


# ---------------------------------------------------------------- the three SVM formulations
FORMULATIONS = ("weston_watkins", "one_vs_all", "crammer_singer")


def svm_loop(s, y, delta=1.0, squared=False, include_correct=False, class_reduction="sum",
             reduction="mean", formulation="weston_watkins"):
    """Every formulation written out with loops over examples and classes."""
    n, c = s.shape
    per = np.empty(n)
    for i in range(n):
        if formulation == "weston_watkins":
            terms = [max(0.0, s[i, j] - s[i, y[i]] + delta) for j in range(c)
                     if include_correct or j != y[i]]
        elif formulation == "one_vs_all":
            terms = [max(0.0, delta - (1.0 if j == y[i] else -1.0) * s[i, j]) for j in range(c)]
        else:
            worst = max(s[i, j] - s[i, y[i]] + delta for j in range(c) if j != y[i])
            terms = [max(0.0, worst)]
        terms = [t * t for t in terms] if squared else terms
        per[i] = sum(terms) / (len(terms) if class_reduction == "mean" else 1)
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


def svm_autograd_any(s, y, delta, squared, class_reduction, reduction, formulation):
    """The three formulations in HIPS autograd (include_correct off)."""
    n, c = s.shape
    if formulation == "weston_watkins":
        return svm_autograd(s, y, delta, squared, False, class_reduction, reduction)
    if formulation == "one_vs_all":
        t = 2.0 * np.eye(c)[y] - 1.0
        hinge = anp.maximum(0.0, delta - t * s)
        hinge = hinge**2 if squared else hinge
        per = anp.sum(hinge, axis=1) / (c if class_reduction == "mean" else 1)
    else:
        correct = s[np.arange(n), y][:, None]
        wrong = np.array([[j for j in range(c) if j != y[i]] for i in range(n)])
        worst = anp.max(s[np.arange(n)[:, None], wrong] - correct + delta, axis=1)
        per = anp.maximum(0.0, worst)
        per = per**2 if squared else per
    return {"mean": anp.mean, "sum": anp.sum, "none": lambda a: a}[reduction](per)


def test_formulations_on_the_lecture_table_by_hand():
    # cat [3.2, 5.1, -1.7] y=0; car [1.3, 4.9, 2.0] y=1; frog [2.2, 2.5, -3.1] y=2; delta 1
    per = {f: svm_loss(LECTURE, LECTURE_Y, reduction="none", formulation=f).data
           for f in FORMULATIONS}
    # Weston-Watkins: cat (5.1-3.2+1) + 0 = 2.9; car 0 + 0; frog (2.2+3.1+1) + (2.5+3.1+1)
    np.testing.assert_allclose(per["weston_watkins"], [2.9, 0.0, 12.9], atol=1e-12)
    # one-vs-all: the correct score should be >= +1, every other <= -1
    #   cat:  max(0, 1-3.2) + max(0, 1+5.1) + max(0, 1-1.7) = 0 + 6.1 + 0
    #   car:  max(0, 1+1.3) + max(0, 1-4.9) + max(0, 1+2.0) = 2.3 + 0 + 3.0
    #   frog: max(0, 1+2.2) + max(0, 1+2.5) + max(0, 1+3.1) = 3.2 + 3.5 + 4.1
    np.testing.assert_allclose(per["one_vs_all"], [6.1, 5.3, 10.8], atol=1e-12)
    # Crammer-Singer: the largest wrong margin only: cat 2.9 (car), car max(-2.6, -1.9) -> 0,
    # frog max(6.3, 6.6) = 6.6 (car)
    np.testing.assert_allclose(per["crammer_singer"], [2.9, 0.0, 6.6], atol=1e-12)
    assert per["crammer_singer"][1] == 0.0
    means = {f: svm_loss(LECTURE, LECTURE_Y, formulation=f).item() for f in FORMULATIONS}
    assert means == pytest.approx({"weston_watkins": 15.8 / 3, "one_vs_all": 22.2 / 3,
                                   "crammer_singer": 9.5 / 3}, rel=1e-12)


def test_formulation_options_by_hand():
    ova = dict(formulation="one_vs_all", reduction="none")
    np.testing.assert_allclose(svm_loss(LECTURE, LECTURE_Y, squared=True, **ova).data,
                               [6.1**2, 2.3**2 + 3.0**2, 3.2**2 + 3.5**2 + 4.1**2], rtol=1e-12)
    np.testing.assert_allclose(svm_loss(LECTURE, LECTURE_Y, class_reduction="mean", **ova).data,
                               [6.1 / 3, 5.3 / 3, 10.8 / 3], rtol=1e-12)
    # delta 2: cat 0 + 7.1 + 0.3, car 3.3 + 0 + 4.0, frog 4.2 + 4.5 + 5.1
    np.testing.assert_allclose(svm_loss(LECTURE, LECTURE_Y, delta=2.0, **ova).data,
                               [7.4, 7.3, 13.8], rtol=1e-12)
    cs = dict(formulation="crammer_singer", reduction="none")
    np.testing.assert_allclose(svm_loss(LECTURE, LECTURE_Y, squared=True, **cs).data,
                               [2.9**2, 0.0, 6.6**2], rtol=1e-12)
    # delta 3: car max(-0.6, 0.1) = 0.1
    np.testing.assert_allclose(svm_loss(LECTURE, LECTURE_Y, delta=3.0, **cs).data,
                               [4.9, 0.1, 8.6], rtol=1e-12)
    assert svm_loss(LECTURE, LECTURE_Y, reduction="sum", formulation="crammer_singer").item() \
        == pytest.approx(9.5, rel=1e-12)


@pytest.mark.parametrize("c", [2, 3, 10])
def test_formulations_at_zero_scores(c):
    zeros, y = np.zeros((5, c)), np.arange(5) % c
    assert svm_loss(zeros, y, formulation="one_vs_all").item() == c  # delta per class
    assert svm_loss(zeros, y, formulation="crammer_singer").item() == 1.0  # delta once
    assert svm_loss(zeros, y, formulation="crammer_singer", delta=0.25).item() == 0.25


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("squared,class_reduction,reduction",
                         list(itertools.product([False, True], ["sum", "mean"],
                                                ["mean", "sum", "none"])))
@given(s=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2,
                                                 max_side=6), elements=floats(-5, 5)),
       delta=st.sampled_from([0.0, 0.5, 1.0, 3.0]), data=st.data())
def test_formulations_match_the_loops(formulation, squared, class_reduction, reduction, s,
                                      delta, data):
    if formulation == "crammer_singer" and class_reduction == "mean":
        return  # refused: one term per example (tested below)
    n, c = s.shape
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    kw = dict(delta=delta, squared=squared, class_reduction=class_reduction,
              reduction=reduction, formulation=formulation)
    out = svm_loss(s, y, **kw)
    assert out.shape == (() if reduction != "none" else (n,))
    np.testing.assert_allclose(out.data, svm_loop(s, y, **kw), rtol=1e-12, atol=1e-12)


def test_weston_watkins_is_the_default_formulation():
    s = np.random.default_rng(0).normal(size=(6, 4)) * 3
    y = np.array([0, 1, 2, 3, 0, 1])
    for kw in ({}, {"squared": True}, {"include_correct": True, "class_reduction": "mean"}):
        assert svm_loss(s, y, formulation="weston_watkins", **kw).item() == \
            svm_loss(s, y, **kw).item()


def test_formulations_order_their_losses_as_the_formulas_say():
    # per example, Crammer-Singer's single term is at most Weston-Watkins' sum of them
    s = np.random.default_rng(1).normal(size=(200, 5)) * 2
    y = np.arange(200) % 5
    ww = svm_loss(s, y, reduction="none").data
    cs = svm_loss(s, y, reduction="none", formulation="crammer_singer").data
    assert np.all(cs <= ww + 1e-12) and np.any(cs < ww)
    assert np.all((cs == 0) == (ww == 0))  # both are zero exactly when every margin is met


# ---------------------------------------------------------------- PyTorch's MultiMarginLoss
def test_weston_watkins_divided_by_c_is_pytorchs_multi_margin_loss():
    """torch.nn.MultiMarginLoss(p, margin) = sum_{j != y} max(0, margin - x_y + x_j)^p / C."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional reference)")
    rng = np.random.default_rng(2)
    for n, c in [(1, 2), (7, 3), (40, 10)]:
        s0, y = rng.normal(size=(n, c)) * 2, rng.integers(0, c, n)
        for p, delta in [(1, 1.0), (2, 1.0), (1, 0.5), (2, 2.5)]:
            ref_x = torch.tensor(s0, dtype=torch.float64, requires_grad=True)
            crit = torch.nn.MultiMarginLoss(p=p, margin=delta, reduction="none")
            ref = crit(ref_x, torch.tensor(y))
            ref.sum().backward()
            s = Tensor(s0, requires_grad=True)
            ours = svm_loss(s, y, delta=delta, squared=p == 2, reduction="none") / c
            np.testing.assert_allclose(ours.data, ref.detach().numpy(), rtol=1e-12, atol=1e-15)
            ours.sum().backward()
            np.testing.assert_allclose(s.grad, ref_x.grad.numpy(), rtol=1e-12, atol=1e-15)
            mean = torch.nn.MultiMarginLoss(p=p, margin=delta)(ref_x, torch.tensor(y)).item()
            assert svm_loss(s0, y, delta=delta, squared=p == 2).item() / c == \
                pytest.approx(mean, rel=1e-12)


# ---------------------------------------------------------------- gradients, off the kinks
@st.composite
def one_vs_all_batches(draw, max_n=5, max_c=5):
    """(scores, y, delta) whose hinge arguments delta - t_ij s_ij all have |.| in [GAP, 3]."""
    n, c = draw(st.integers(1, max_n)), draw(st.integers(2, max_c))
    delta = draw(st.sampled_from([0.0, 0.5, 1.0, 2.5]))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    size = draw(hnp.arrays(np.float64, (n, c), elements=floats(GAP, 3)))
    margins = np.where(draw(hnp.arrays(np.bool_, (n, c))), size, -size)
    t = 2.0 * np.eye(c)[y] - 1.0
    return t * (delta - margins), y, delta  # delta - t s = margins, as t * t = 1


@st.composite
def crammer_singer_batches(draw, max_n=5, max_c=5):
    """(scores, y, delta): in each row the wrong margins s_j - s_y + delta are GAP apart or
    more (no tie for the max) and the largest is at least GAP from 0 (off relu's kink)."""
    n, c = draw(st.integers(1, max_n)), draw(st.integers(2, max_c))
    delta = draw(st.sampled_from([0.0, 0.5, 1.0, 2.5]))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    base = draw(hnp.arrays(np.float64, n, elements=floats(-3, 3)))
    top = draw(hnp.arrays(np.float64, n, elements=floats(GAP, 3)))
    top = np.where(draw(hnp.arrays(np.bool_, n)), top, -top)
    steps = draw(hnp.arrays(np.float64, (n, c - 1), elements=floats(GAP, 2)))
    scores = np.empty((n, c))
    for i in range(n):
        below = top[i] - np.concatenate([[0.0], np.cumsum(steps[i, :-1])])  # decreasing
        order = draw(st.permutations(range(c - 1)))
        wrong = [j for j in range(c) if j != y[i]]
        scores[i, wrong] = base[i] + below[list(order)] - delta
        scores[i, y[i]] = base[i]
    return scores, y, delta


BATCHES = {"weston_watkins": svm_batches(), "one_vs_all": one_vs_all_batches(),
           "crammer_singer": crammer_singer_batches()}


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("squared", [False, True])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_formulation_grads_match_differences_and_autograd(formulation, squared, data, seed):
    s0, y, delta = data.draw(BATCHES[formulation], label="batch")
    kw = dict(delta=delta, squared=squared, formulation=formulation,
              class_reduction="sum" if formulation == "crammer_singer" else
              data.draw(st.sampled_from(["sum", "mean"]), label="class_reduction"),
              reduction=data.draw(st.sampled_from(["mean", "sum", "none"]), label="reduction"))
    u = np.random.default_rng(seed).standard_normal(len(y) if kw["reduction"] == "none" else ())
    s = Tensor(s0, requires_grad=True)
    _backward(svm_loss(s, y, **kw), u)

    x = s0.copy()
    numeric = numerical_gradient(lambda: float(np.sum(u * svm_loss(x, y, **kw).data)), x, h=H)
    np.testing.assert_allclose(s.grad, numeric, **FD)
    reference = grad(lambda a: anp.sum(u * svm_autograd_any(a, y, **kw)))(s0)
    np.testing.assert_allclose(s.grad, reference, **AG)
    assert gradcheck(lambda t: svm_loss(t, y, **kw), Tensor(s0, requires_grad=True),
                     strict=True)  # strict: no kink on the way, by construction


# ---------------------------------------------------------------- gradients, on the kinks
KINKS = [
    # (formulation, scores, y, gradient by the conventions, kink ops gradcheck must name)
    ("weston_watkins", [[10.0, 9.0, 9.0]], [0], [[0.0, 0.0, 0.0]], {"relu"}),
    # delta - s_0 = 0 and delta + s_1 = 0: relu's kink twice; s_2 counts (1 + 0.3 > 0)
    ("one_vs_all", [[1.0, -1.0, 0.3]], [0], [[0.0, 0.0, 1.0]], {"relu"}),
    # margins 0.5 and 0.5 tie for the max: they share its gradient evenly
    ("crammer_singer", [[1.0, 0.5, 0.5]], [0], [[-1.0, 0.5, 0.5]], {"max"}),
    # the largest margin 0 - 1 + 1 is exactly 0: relu's kink, no gradient
    ("crammer_singer", [[1.0, 0.0, -2.0]], [0], [[0.0, 0.0, 0.0]], {"relu"}),
]


@pytest.mark.parametrize("formulation,scores,y,expected,ops", KINKS)
def test_gradcheck_reports_each_formulations_kinks(formulation, scores, y, expected, ops):
    from tinygrad_lc.gradcheck import GradcheckError, gradcheck_report

    f = lambda t: svm_loss(t, y, formulation=formulation)
    s = Tensor(scores, requires_grad=True, name="s")
    f(s).backward()
    np.testing.assert_array_equal(s.grad, expected)  # the subgradient conventions
    report = gradcheck_report(f, Tensor(scores, requires_grad=True, name="s"))
    assert report.passed and report.kink_count >= 1
    assert {k.op for k in report.kinks} == ops
    assert all(k.scope.startswith("svm_loss") for k in report.kinks)
    with pytest.raises(GradcheckError, match="strict"):
        gradcheck(f, Tensor(scores, requires_grad=True), strict=True)


# ---------------------------------------------------------------- options that do not apply
@pytest.mark.parametrize("kw,text", [
    ({"formulation": "crammer-singer"},
     "formulation must be one of 'weston_watkins', 'one_vs_all', 'crammer_singer', "
     "got 'crammer-singer'"),
    ({"formulation": None}, "got None"),
    ({"formulation": "one_vs_all", "include_correct": True},
     "include_correct=True is an option of formulation='weston_watkins' only"),
    ({"formulation": "crammer_singer", "include_correct": True}, "largest wrong margin"),
    ({"formulation": "crammer_singer", "class_reduction": "mean"},
     "class_reduction='mean' does not apply to formulation='crammer_singer'"),
])
def test_options_that_do_not_apply_are_refused(kw, text):
    with pytest.raises(ValueError, match="svm_loss") as info:
        svm_loss(LECTURE, LECTURE_Y, **kw)
    assert text in str(info.value)


def test_crammer_singer_needs_a_wrong_class():
    with pytest.raises(ValueError, match="needs a wrong class"):
        svm_loss(np.zeros((2, 1)), [0, 0], formulation="crammer_singer")
    assert svm_loss(np.zeros((2, 1)), [0, 0], formulation="one_vs_all").item() == 1.0


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_formulations_keep_dtype_scope_and_compile(formulation):
    import tinygrad_lc as tg

    for dtype in (np.float32, np.float64):
        s = Tensor(LECTURE.astype(dtype), requires_grad=True)
        loss = svm_loss(s, LECTURE_Y, formulation=formulation)
        assert loss.dtype == dtype and loss.scope == "svm_loss"
        loss.backward()
        assert s.grad.dtype == dtype
    f = tg.compile(lambda s, y: svm_loss(s, y, formulation=formulation), check=True)
    rng = np.random.default_rng(3)
    for _ in range(3):  # the labels change per call: the host steps run on every replay
        s0, y = rng.normal(size=(5, 4)), rng.integers(0, 4, 5)
        s = Tensor(s0, requires_grad=True)
        out = f(s, y)
        assert out.item() == pytest.approx(svm_loop(s0, y, formulation=formulation), rel=1e-12)
        out.backward()
