"""The forms of the engine's products agree with the plain one; the engine takes its products
from tinygrad_lc.kernels in both modes, eager, create_graph and compiled alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lc as tg
from tinygrad_lc import Tensor, kernels, losses, regularizers
from tinygrad_lc.kernels import Choice, Form, products

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ("C", "F", "rows", "cols", "steps")


def laid_out(a: np.ndarray, order: str) -> np.ndarray:
    """``a``'s values in the memory order ``order``: contiguous C or F, or a view of a bigger
    array (a slice of rows or columns, every other entry)."""
    if order == "C":
        return np.ascontiguousarray(a)
    if order == "F":
        return np.asfortranarray(a)
    m, n = a.shape
    if order == "rows":
        big = np.zeros((m + 3, n), a.dtype, order="F")
        big[1:m + 1] = a
        return big[1:m + 1]
    if order == "cols":
        big = np.zeros((m, n + 3), a.dtype)
        big[:, 2:n + 2] = a
        return big[:, 2:n + 2]
    big = np.zeros((2 * m, 2 * n), a.dtype)
    big[::2, ::2] = a
    return big[::2, ::2]


@st.composite
def operands(draw, dtype):
    m, k, n = (draw(st.integers(1, 24)) for _ in range(3))
    finite = st.floats(-4, 4, width=np.dtype(dtype).itemsize * 8)
    x = draw(hnp.arrays(dtype, (m, k), elements=finite))
    y = draw(hnp.arrays(dtype, (k, n), elements=finite))
    return laid_out(x, draw(st.sampled_from(ORDERS))), laid_out(y, draw(st.sampled_from(ORDERS)))


def check_forms(x: np.ndarray, y: np.ndarray) -> None:
    plain = x @ y
    # rounding: k products summed, each operand up to 4 in size
    eps = np.finfo(x.dtype).eps
    atol = 4 * x.shape[1] * eps * (np.abs(x) @ np.abs(y)).max(initial=1.0)
    for form in products.PRODUCT.forms:
        got = form.fn(x, y)
        assert got.shape == plain.shape and got.dtype == plain.dtype, form.name
        np.testing.assert_allclose(got, plain, rtol=0, atol=atol, err_msg=form.name)
        for order in ("C", "F"):  # the buffer form: the same bits in either layout of out
            out = np.empty(plain.shape, plain.dtype, order=order)
            assert form.into(x, y, out) is out
            assert np.array_equal(out, got), (form.name, order)


@given(operands(np.float64))
def test_every_form_agrees_with_the_plain_product_float64(xy):
    check_forms(*xy)


@given(operands(np.float32))
def test_every_form_agrees_with_the_plain_product_float32(xy):
    check_forms(*xy)


def test_the_forms_are_the_plain_product_and_its_transpose():
    assert [f.name for f in products.PRODUCT.forms] == ["x @ y", "(y.T @ x.T).T"]
    x, y = np.ones((5, 3)), np.ones((3, 4))
    assert products.TRANSPOSED.fn(x, y).flags.f_contiguous
    assert products.PLAIN.fn(x, y).flags.c_contiguous


@pytest.fixture
def transposed_wins(monkeypatch):
    """Every product chosen for (none too small), the transposed form timed fastest."""
    ticks = {"now": 0.0}

    def timer():
        ticks["now"] += 1.0
        return ticks["now"]

    slow = Form("x @ y", lambda x, y: (timer(), products.PLAIN.fn(x, y))[1],
                products.PLAIN.into)
    choice = Choice("x @ y", [slow, products.TRANSPOSED], timer=timer, budget=100.0)
    monkeypatch.setattr(products, "SMALL", 0)
    monkeypatch.setattr(products, "PRODUCT", choice)
    return choice


def _svm_step(W0, X, y, **kw):
    W = Tensor(W0, requires_grad=True)
    loss = losses.svm_loss(Tensor(X) @ W, y) + 0.1 * regularizers.l2(W)
    (g,) = tg.grad(loss, [W], **kw)
    return loss.data, np.asarray(g.data if isinstance(g, Tensor) else g)


def _mlp_step(params, X, y):
    W1, W2 = (Tensor(p, requires_grad=True) for p in params)
    loss = losses.softmax_loss(tg.maximum(Tensor(X) @ W1, 0.0) @ W2, y)
    loss.backward()
    return loss.data, W1.grad, W2.grad


def _data(dtype):
    """Data whose scores X @ W round differently in the two forms (checked), so a step that
    took another form than its twin would show."""
    n, d, c = (30, 200, 8) if dtype == np.float32 else (20, 30, 10)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    W = rng.standard_normal((d, c)).astype(dtype)
    assert not np.array_equal(products.PLAIN.fn(X, W), products.TRANSPOSED.fn(X, W))
    return X, y, W, rng.standard_normal((c, 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_eager_and_create_graph_make_the_same_choices(transposed_wins, dtype):
    X, y, W0, _ = _data(dtype)
    loss, g = _svm_step(W0, X, y)
    assert transposed_wins.decisions() and {d.winner for d in transposed_wins.decisions()} \
        == {"(y.T @ x.T).T"}
    loss2, g2 = _svm_step(W0, X, y, create_graph=True)
    assert np.array_equal(loss, loss2) and np.array_equal(g, g2)
    cf = tg.compile(lambda W, X, y: losses.svm_loss(Tensor(X) @ W, y) + 0.1 * regularizers.l2(W))
    for _ in range(3):  # the trace, then replays in buffers
        W = Tensor(W0, requires_grad=True)
        out = cf(W, X, y)
        out.backward()
        assert np.array_equal(out.data, loss) and np.array_equal(W.grad, g)


def test_the_net_compiled_is_bit_identical_to_eager_with_the_transposed_forms(transposed_wins):
    X, y, _, W2 = _data(np.float64)
    W1 = np.random.default_rng(4).standard_normal((X.shape[1], W2.shape[0]))
    y = y % 4
    eager = _mlp_step((W1, W2), X, y)
    names = {d.key[:2] for d in transposed_wins.decisions()}
    assert ((20, 4), (4, 10)) in names  # the eager backward chose G W2^T's form too
    cf = tg.compile(lambda A, B, X, y: losses.softmax_loss(tg.maximum(Tensor(X) @ A, 0.0) @ B, y))
    for _ in range(3):
        A, B = Tensor(W1, requires_grad=True), Tensor(W2, requires_grad=True)
        out = cf(A, B, X, y)
        out.backward()
        assert np.array_equal(out.data, eager[0])
        assert np.array_equal(A.grad, eager[1]) and np.array_equal(B.grad, eager[2])


def test_fixed_mode_takes_the_plain_forms(transposed_wins):
    X, y, W0, _ = _data(np.float64)
    old = kernels.set_mode("fixed")
    try:
        W = Tensor(W0, requires_grad=True)
        s = Tensor(X) @ W
        assert np.array_equal(s.data, X @ W0) and s.data.flags.c_contiguous
        G = np.random.default_rng(0).standard_normal(s.shape)
        s.backward(G)
        assert np.array_equal(W.grad, X.T @ G)
        assert kernels.product_form(X, W0) is products.PLAIN
        assert transposed_wins.decisions() == []  # nothing timed
    finally:
        kernels.set_mode(old)
    assert kernels.get_mode() == old


def test_set_mode_refuses_other_words():
    with pytest.raises(ValueError, match=r"set_mode: expected one of 'auto', 'fixed', got 'Fixed'"):
        kernels.set_mode("Fixed")


def _python(code: str, value: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TINYGRAD_LC_KERNELS": value}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_the_environment_variable_sets_the_mode_at_import():
    code = ("import numpy as np, tinygrad_lc as tg; from tinygrad_lc import kernels; "
            "x = np.random.default_rng(0).standard_normal((300, 500)); "
            "y = np.random.default_rng(1).standard_normal((500, 40)); "
            "print(kernels.get_mode(), np.array_equal((tg.Tensor(x) @ y).data, x @ y), "
            "kernels.PRODUCT.decisions())")
    done = _python(code, "fixed")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fixed", "True", "[]"]
    assert _python("from tinygrad_lc import kernels; print(kernels.get_mode())", "").stdout \
        .strip() == "auto"
    bad = _python("import tinygrad_lc", "fast")
    assert bad.returncode != 0
    assert "TINYGRAD_LC_KERNELS: expected one of 'auto', 'fixed' (or unset), got 'fast'" \
        in bad.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_buffer_form_writes_its_own_forms_bits_in_either_layout(dtype):
    X, _, W, _ = _data(dtype)  # the two forms round X @ W differently
    for form in products.PRODUCT.forms:
        want = form.fn(X, W)
        for order in ("C", "F"):
            out = np.empty(want.shape, dtype, order=order)
            assert np.array_equal(form.into(X, W, out), want), (form.name, order)
