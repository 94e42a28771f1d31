"""Every row of the stability table in docs/numerics.md, asserted (test names carry the row)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.gradcheck import rel_error
from tinygrad_lc.losses import softmax_loss, svm_loss

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the naive formulas overflow

DOC = Path(__file__).resolve().parents[2] / "docs" / "numerics.md"
DTYPES = [np.float64, np.float32]


def _naive_softmax(s):
    return np.exp(s) / np.exp(s).sum()


def test_every_table_row_has_a_test():
    rows = re.findall(r"^\| (N\d+) \|", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert rows == [f"N{i}" for i in range(1, len(rows) + 1)] and len(rows) >= 7
    names = [n for n in globals() if n.startswith("test_n")]
    for row in rows:
        assert any(n.startswith(f"test_{row.lower()}_") for n in names), row


@pytest.mark.parametrize("dtype", DTYPES)
def test_n1_softmax_at_1e4_is_exact_where_naive_gives_nan(dtype):
    s = np.array([1e4, 0.0, -1e4], dtype=dtype)
    assert np.isnan(_naive_softmax(s)[0])
    x = Tensor(s, requires_grad=True)
    y = x.softmax()
    assert y.data.tolist() == [1.0, 0.0, 0.0] and y.dtype == dtype
    y.backward(np.array([1.0, -2.0, 0.5], dtype=dtype))
    assert np.array_equal(x.grad, np.zeros(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_n2_logsumexp_at_plus_minus_1e4_is_finite_and_exact(dtype):
    assert np.log(np.exp(np.array([1e4, 1e4], dtype)).sum()) == np.inf
    assert np.log(np.exp(np.array([-1e4, -1e4], dtype)).sum()) == -np.inf
    ulp = np.spacing(dtype(1e4))
    for sign in (1.0, -1.0):
        x = Tensor(np.array([sign * 1e4, sign * 1e4], dtype), requires_grad=True)
        out = x.logsumexp()
        out.backward()
        assert abs(out.item() - (sign * 1e4 + np.log(2.0))) <= ulp
        np.testing.assert_allclose(x.grad, [0.5, 0.5], rtol=1e-6)
    assert np.spacing(1e4) < 2e-12  # the page's "one ulp of 1e4 (1.8e-12)"


def test_n3_log_of_an_underflowed_probability():
    z = Tensor([0.0, -800.0], requires_grad=True)
    assert np.exp(-800.0) == 0.0
    naive = z.softmax().log()
    assert naive.data[0] == 0.0 and naive.data[1] == -np.inf
    stable = z.log_softmax()
    assert stable.data.tolist() == [0.0, -800.0]
    stable.backward(np.array([0.0, 1.0]))
    assert z.grad.tolist() == [-1.0, 1.0]
    with pytest.raises(tg.AnomalyError, match=r"^log: forward output holds 1 inf"):
        with tg.detect_anomaly():
            z.softmax().log()


@pytest.mark.parametrize("dtype", DTYPES)
def test_n4_softmax_loss_at_1e4_is_exact(dtype):
    assert -np.log(_naive_softmax(np.array([1e4, -1e4]))[1]) == np.inf
    scores = Tensor(np.array([[1e4, -1e4]], dtype), requires_grad=True)
    loss = softmax_loss(scores, np.array([1]))
    loss.backward()
    assert loss.item() == 20000.0 and loss.dtype == dtype
    assert scores.grad.tolist() == [[1.0, -1.0]]


def test_n5_hinge_with_huge_scores():
    scores = Tensor([[1e10, -1e10, 0.0]], requires_grad=True)
    loss = svm_loss(scores, np.array([1]))
    loss.backward()
    assert loss.item() == 3e10 + 2
    assert scores.grad.tolist() == [[1.0, -2.0, 1.0]]
    assert svm_loss(Tensor([[1e300, -1e300]]), np.array([1])).item() == 2e300
    # beyond ~8.9e307 a margin overflows: inf, and anomaly mode names where
    huge = Tensor([[1e308, -1e308]], requires_grad=True)
    assert svm_loss(huge, np.array([1])).item() == np.inf
    with pytest.raises(tg.AnomalyError, match=r"^sub: .*scope 'svm_loss/margins'"):
        with tg.detect_anomaly():
            svm_loss(huge, np.array([1]))


def _cifar_scale(seed: int, f):
    """Loss and W-gradient of ``f`` in float64 and float32 on CIFAR-sized random data."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(200, 3072)).astype(np.float64)
    X = np.hstack([X - X.mean(axis=0), np.ones((200, 1))])
    y = rng.integers(0, 10, size=200)
    W0 = rng.standard_normal((3073, 10)) * 1e-4
    out = {}
    for dtype in DTYPES:
        W = Tensor(W0.astype(dtype), requires_grad=True)
        loss = f(Tensor(X.astype(dtype)) @ W, y)
        loss.backward()
        assert W.grad.dtype == dtype and loss.dtype == dtype
        out[dtype] = (loss.item(), W.grad.astype(np.float64))
    return out[np.float64], out[np.float32]


@pytest.mark.parametrize("f", [svm_loss, softmax_loss], ids=["svm", "softmax"])
@pytest.mark.parametrize("seed", [0, 1])
def test_n6_float32_gradients_at_cifar_scale(f, seed):
    (l64, g64), (l32, g32) = _cifar_scale(seed, f)
    assert abs(l32 - l64) / abs(l64) < 2e-7
    normwise = np.linalg.norm(g32 - g64) / np.linalg.norm(g64)
    eps32 = np.finfo(np.float32).eps
    assert eps32 < normwise < 4 * eps32  # measured 2.0e-7 to 2.6e-7: float32 really ran
    big = np.abs(g64) >= 1e-2 * np.abs(g64).max()
    assert big.mean() > 0.9
    assert rel_error(g32[big], g64[big]) < 5e-5  # measured at most 1.0e-5
    assert rel_error(g32, g64) > 10 * rel_error(g32[big], g64[big])  # near-zero entries dominate


@pytest.mark.parametrize(("dtype", "x"), [(np.float64, 710.0), (np.float32, 89.0)])
def test_n7_exp_overflows_but_shifted_reductions_do_not(dtype, x):
    assert np.log(np.finfo(dtype).max) < x
    big = np.array([x, 0.0], dtype)
    assert Tensor(big).exp().data[0] == np.inf
    with pytest.raises(tg.AnomalyError, match=r"^exp: forward output holds 1 inf"):
        with tg.detect_anomaly():
            Tensor(big).exp()
    with tg.detect_anomaly():
        assert np.isclose(Tensor(big).logsumexp().item(), x)
        assert np.isfinite(Tensor(big).softmax().data).all()
        assert np.isfinite(Tensor(big).log_softmax().data).all()
