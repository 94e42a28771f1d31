"""Tests for tinygrad_lc/testing.py: the strategies keep their promises, the assertion fails
when it should, and the profiles are as documented (docs/testing.md runs in test_docs.py)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_lc as tg
from tinygrad_lc.gradcheck import GradcheckError
from tinygrad_lc.testing import (
    assert_grads_match,
    classification_batches,
    labels,
    register_profiles,
    score_matrices,
    tensors,
)

ROOT = Path(__file__).resolve().parent.parent
floats = st.sampled_from([np.float32, np.float64])


def _first(strategy):
    """Draw one example through @given (errors raised while drawing propagate)."""
    seen = []

    @settings(max_examples=1, database=None)
    @given(strategy)
    def run(x):
        seen.append(x)

    run()
    return seen[0]


def _margins(s, y, delta):
    """Hinge margins s_j - s_y + delta with the correct-class entries set to +inf."""
    rows = np.arange(len(y))
    m = s - s[rows, y][:, None] + delta
    m[rows, y] = np.inf
    return m


# ---------------------------------------------------------------------- tensors
@given(st.data())
def test_tensors_fixed_shape_dtype_and_range(data):
    dtype = data.draw(floats)
    shape = data.draw(st.tuples(st.integers(0, 3), st.integers(1, 3)))
    lo = data.draw(st.floats(-100, 0))
    hi = lo + data.draw(st.floats(0, 100))
    try:
        strategy = tensors(shape=shape, dtype=dtype, min_value=lo, max_value=hi)
    except ValueError as exc:  # only a float32 range too narrow to hold a float32 value
        assert dtype == np.float32 and float(np.float32(lo)) != lo and "no float32" in str(exc)
        return
    x = data.draw(strategy)
    assert x.shape == shape and x.dtype == dtype
    x64 = x.astype(np.float64)  # compare in float64: NumPy would round lo and hi to float32
    assert np.all((lo <= x64) & (x64 <= hi))


@given(st.data())
def test_tensors_min_gap_keeps_entries_apart_and_away_from_zero(data):
    dtype = data.draw(floats)
    gap = data.draw(st.floats(1e-3, 1.0))
    lo = data.draw(st.floats(-30.0, 0.0))
    hi = data.draw(st.floats(0.0, 30.0))
    room = int((hi - lo) / (2 * gap)) - 2  # cells of width 2 gap, one or two lost around 0
    shape = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(
        lambda s: math.prod(s) <= room))
    x = data.draw(tensors(shape=shape, dtype=dtype, min_value=lo, max_value=hi, min_gap=gap))
    v = np.sort(x.astype(np.float64).ravel())
    assert x.shape == shape and x.dtype == dtype and np.all((lo <= v) & (v <= hi))
    assert np.all(np.diff(v) >= gap) and np.all(np.abs(v) >= gap)


@given(st.data())
def test_tensors_free_shape_follows_array_shapes_bounds(data):
    min_dims = data.draw(st.integers(0, 2))
    max_dims = data.draw(st.integers(min_dims, 3))
    max_side = data.draw(st.integers(1, 4))
    x = data.draw(tensors(min_dims=min_dims, max_dims=max_dims, max_side=max_side,
                          min_gap=data.draw(st.sampled_from([0.0, 0.1]))))
    assert min_dims <= x.ndim <= max_dims and all(1 <= n <= max_side for n in x.shape)


def test_tensors_refuses_what_cannot_fit():
    with pytest.raises(ValueError, match=r"tensors: 100 entries at least 1 apart .* room for"):
        tensors(shape=(100,), min_gap=1, min_value=-5, max_value=5)
    with pytest.raises(ValueError, match="tensors: dtype must be float32 or float64"):
        tensors(dtype=np.int64)
    with pytest.raises(ValueError, match="tensors: need finite min_value <= max_value"):
        tensors(min_value=1.0, max_value=0.0)
    with pytest.raises(ValueError, match="below float32's resolution"):
        tensors(shape=3, dtype=np.float32, min_gap=1e-9)


# ---------------------------------------------------------------------- labels
@given(st.data())
def test_labels_shape_dtype_range(data):
    n, c = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 5))
    y = data.draw(labels(n, c))
    assert y.shape == (n,) and y.dtype == np.int64 and np.all((0 <= y) & (y < c))


@pytest.mark.parametrize(("n", "c"), [(0, 3), (3, 0), (2.0, 3), (True, 3)])
def test_labels_refuses_bad_sizes(n, c):
    with pytest.raises(ValueError, match="labels: .* must be an int >= 1"):
        labels(n, c)


# ---------------------------------------------------------------------- score matrices
@given(st.data())
def test_score_matrices_keep_margins_and_scores_apart(data):
    gap = data.draw(st.floats(0.01, 0.5))
    delta = data.draw(st.floats(0.0, 3.0))
    n = data.draw(st.none() | st.integers(1, 5))
    s, y = data.draw(score_matrices(n=n, margin_gap=gap, delta=delta))
    rows, c = s.shape
    assert (n is None or rows == n) and 2 <= c <= 6 and y.shape == (rows,)
    assert s.dtype == np.float64 and y.dtype == np.int64 and np.all((0 <= y) & (y < c))
    assert np.all(np.abs(_margins(s, y, delta)) >= gap)
    assert np.all(np.diff(np.sort(s, axis=1), axis=1) >= gap)
    assert np.all((-10 <= s) & (s <= 10))


def test_score_matrices_refuses_bad_arguments():
    with pytest.raises(ValueError, match="score_matrices: num_classes must be an int >= 2"):
        score_matrices(num_classes=1)
    with pytest.raises(ValueError, match="score_matrices: 59 entries at least 0.5 apart"):
        score_matrices(n=1, num_classes=60, margin_gap=0.5)
    with pytest.raises(ValueError, match="score_matrices: need finite min_value < 0"):
        score_matrices(min_value=1.0)
    with pytest.raises(ValueError, match="score_matrices: the gap must be a finite number > 0"):
        score_matrices(margin_gap=0)


@given(st.data())
def test_classification_batches_give_clear_margins(data):
    gap = data.draw(st.floats(0.01, 0.3))
    X, y, W = data.draw(classification_batches(margin_gap=gap, num_classes=3))
    n, d = X.shape
    assert d >= n and W.shape == (d, 3) and y.shape == (n,)
    s = X @ W
    assert np.all(np.abs(_margins(s, y, 1.0)) >= gap)
    assert np.all(np.diff(np.sort(s, axis=1), axis=1) >= gap)


def test_classification_batches_need_enough_features():
    with pytest.raises(ValueError, match=r"num_features must be >= n \(here 4\), got 2"):
        classification_batches(n=4, num_features=2)
    X, y, W = _first(classification_batches(num_features=2))
    assert X.shape[0] <= 2 and X.shape[1] == 2


# ---------------------------------------------------------------------- assert_grads_match
def svm_ref(s, y, delta=1.0):
    n = s.shape[0]
    m = anp.maximum(0.0, s - s[anp.arange(n), y][:, None] + delta)
    return (anp.sum(m) - n * delta) / n


def softmax_ref(s, y):
    m = anp.max(s, axis=1, keepdims=True)
    lse = m[:, 0] + anp.log(anp.sum(anp.exp(s - m), axis=1))
    return anp.mean(lse - s[anp.arange(s.shape[0]), y])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(score_matrices(margin_gap=1e-3))
def test_svm_loss_gradients_match_differences_and_autograd(batch):
    s, y = batch
    assert_grads_match(lambda t: tg.losses.svm_loss(t, y), s, reference=lambda a: svm_ref(a, y))


@given(score_matrices(margin_gap=1e-3, min_value=-50.0, max_value=50.0))
def test_softmax_loss_gradients_match_differences_and_autograd(batch):
    s, y = batch
    assert_grads_match(lambda t: tg.losses.softmax_loss(t, y), s,
                       reference=lambda a: softmax_ref(a, y))


@given(classification_batches(num_classes=4))
def test_full_loss_gradients_for_weights_and_data(batch):
    X, y, W = batch
    assert_grads_match(lambda X, W: tg.losses.svm_loss(X @ W, y) + (W * W).sum(), X, W,
                       reference=lambda X, W: svm_ref(X @ W, y) + anp.sum(W * W))


def test_non_float_arguments_pass_through_unchanged():
    seen = []

    def f(s, y, k):
        seen.append((type(s).__name__, y.dtype, k))
        return (s[np.arange(2), y] * k).sum()

    assert_grads_match(f, np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0]), 3)
    assert seen[0] == ("Tensor", np.int64, 3)


def test_a_wrong_gradient_raises_with_the_report():
    x = np.array([1.0, -2.0, 3.0])
    with pytest.raises(AssertionError) as err:
        assert_grads_match(lambda t: (t * tg.Tensor(t.data)).sum(), x)
    assert isinstance(err.value, GradcheckError)
    assert not err.value.report.passed and "'arg0' (input 0)" in str(err.value)


def test_a_disagreeing_reference_fails():
    x = np.array([0.5, 1.5])
    assert_grads_match(lambda t: (t**3).sum(), x, reference=lambda a: anp.sum(a**3))
    with pytest.raises(AssertionError, match="arg0 differs from HIPS autograd's"):
        # same value at x, gradient off by one in the first entry
        assert_grads_match(lambda t: (t**3).sum(), x,
                           reference=lambda a: anp.sum(a**3) + a[0] - 0.5)
    with pytest.raises(AssertionError, match="reference gives"):
        assert_grads_match(lambda t: (t**3).sum(), x, reference=lambda a: anp.sum(a**3) + 1)


def test_a_reference_for_a_non_scalar_result_uses_the_same_upstream():
    x = np.array([[0.5, 1.5], [-1.0, 2.0]])
    assert_grads_match(lambda t: t.exp() * t, x, reference=lambda a: anp.exp(a) * a)


def test_kinks_fail_by_default_and_only_count_when_not_strict():
    x = np.array([0.0, 1.0])  # relu at exactly 0
    with pytest.raises(GradcheckError, match="at a kink, counted as failures"):
        assert_grads_match(lambda t: t.relu().sum(), x)
    assert_grads_match(lambda t: t.relu().sum(), x, strict=False)


def test_assert_grads_match_needs_a_float_array():
    with pytest.raises(ValueError, match="no float array among the arguments"):
        assert_grads_match(lambda y: tg.Tensor(y).sum(), np.array([1, 2]))


# ---------------------------------------------------------------------- profiles
def test_profiles_are_registered_as_documented():
    register_profiles(load=False)
    dev, ci = settings.get_profile("dev"), settings.get_profile("ci")
    assert (dev.max_examples, dev.deadline) == (25, None)
    assert (ci.max_examples, ci.deadline, ci.print_blob) == (100, None, True)
    assert HealthCheck.too_slow in ci.suppress_health_check


def test_profile_is_loaded_from_the_environment(monkeypatch):
    before = settings.get_current_profile_name()
    try:
        monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
        assert register_profiles() == "ci" and settings.default.max_examples == 100
        monkeypatch.delenv("HYPOTHESIS_PROFILE")
        assert register_profiles() == "dev" and settings.default.max_examples == 25
    finally:
        settings.load_profile(before)


def test_import_tinygrad_lc_does_not_import_hypothesis():
    code = "import sys, tinygrad_lc; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("lo,hi", [(-1.7, 0.0), (-1.7, 0.3), (0.1, 2.2)])
def test_float32_bounds_round_inward(lo, hi):
    # float32(-1.7) is below -1.7: the strategy must not hand it out for min_value=-1.7
    from tinygrad_lc.testing import _float_bounds

    lo32, hi32 = _float_bounds("tensors", lo, hi, np.dtype(np.float32))
    assert lo <= lo32 <= hi32 <= hi
    assert float(np.float32(lo32)) == lo32 and float(np.float32(hi32)) == hi32
