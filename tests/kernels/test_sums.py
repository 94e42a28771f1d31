"""An F-ordered gradient plus a C-ordered one: written over the first, or a new array, as
timed on the machine; the values are the same either way, eager and compiled."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor, kernels, losses, regularizers
from tinygrad_lc.core.ops import NUMPY
from tinygrad_lc.kernels import Choice, products, sums


def pinned(form):
    """A MIXED_ADD whose only form is ``form`` (as if timed fastest)."""
    return Choice("f + c", [form])


@pytest.mark.parametrize("form, into", [(sums.INTO, True), (sums.NEW, False)])
def test_the_engine_adds_into_the_f_ordered_gradient_only_when_that_was_faster(
        monkeypatch, form, into):
    monkeypatch.setattr(sums, "MIXED_ADD", pinned(form))
    monkeypatch.setattr(sums, "SMALL", 0)
    f = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    c = np.ones((4, 3))
    q, pg = f.copy(order="F"), c.copy()  # pg is C-ordered but a view: not written over
    out = NUMPY.accumulate(q, pg.reshape(12).reshape(4, 3))
    assert np.array_equal(out, f + c)
    assert (out is q) == into and out.flags.c_contiguous != into
    q, pg = c.copy(), f.copy(order="F")  # a fresh C-ordered q takes the sum in either case
    out = NUMPY.accumulate(q, pg)
    assert out is q and np.array_equal(out, f + c)


def test_small_arrays_and_the_fixed_mode_take_a_new_array():
    assert not kernels.add_into_f_ordered((10, 10), np.float64)
    old = kernels.set_mode("fixed")
    try:
        assert not kernels.add_into_f_ordered((300, 300), np.float64)
    finally:
        kernels.set_mode(old)


def test_the_choice_is_timed_once_per_shape_and_dtype(monkeypatch):
    c = Choice("f + c", [sums.NEW, sums.INTO])
    monkeypatch.setattr(sums, "MIXED_ADD", c)
    for shape, dtype in (((200, 100), np.float64), ((200, 100), np.float64),
                         ((200, 100), np.float32), ((100, 200), np.float64)):
        assert kernels.add_into_f_ordered(shape, dtype) in (True, False)
    assert [d.key for d in c.decisions()] == [((200, 100), "d"), ((200, 100), "f"),
                                              ((100, 200), "d")]


@pytest.mark.parametrize("form, into", [(sums.INTO, True), (sums.NEW, False)])
def test_the_planner_follows_the_same_choice_and_stays_bit_identical(monkeypatch, form, into):
    monkeypatch.setattr(sums, "MIXED_ADD", pinned(form))
    monkeypatch.setattr(sums, "SMALL", 0)
    monkeypatch.setattr(products, "SMALL", 0)  # A^T G F-ordered: the transposed form only
    monkeypatch.setattr(products, "PRODUCT", Choice("x @ y", [products.TRANSPOSED]))
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((12, 7)), rng.integers(0, 3, 12)
    W0 = rng.standard_normal((7, 3))

    def f(W, X, y):
        return losses.svm_loss(Tensor(X) @ W, y) + regularizers.l2(W)

    W = Tensor(W0, requires_grad=True)
    f(W, X, y).backward()
    cf = tg.compile(f)
    last = [line for line in cf.program(Tensor(W0, requires_grad=True), X, y).splitlines()
            if "B.accumulate" in line][-1]
    assert ("into" in last) == into, last
    for _ in range(2):
        V = Tensor(W0, requires_grad=True)
        cf(V, X, y).backward()
        assert np.array_equal(V.grad, W.grad)
