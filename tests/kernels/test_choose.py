"""How a form is chosen: by a (here fake) clock, once per key, thread-safely."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tinygrad_lc.kernels import Choice, Form, products
from tinygrad_lc.kernels.choose import MAX_ROUNDS


class Clock:
    """A fake timer: each form's run advances it by that form's cost."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def costed(clock: Clock, name: str, cost: float, runs: list) -> Form:
    def fn(x):
        clock.now += cost
        runs.append(name)
        return (name, x)

    return Form(name, fn)


def test_the_fastest_form_wins_and_its_result_is_returned():
    clock, runs = Clock(), []
    c = Choice("t", [costed(clock, "plain", 3.0, runs), costed(clock, "fast", 1.0, runs)],
                timer=clock, budget=40.0)
    assert c.decide(("k",), 5) == ("fast", 5)
    d = c.decision(("k",))
    assert d.winner == "fast" and d.times == {"plain": 3.0, "fast": 1.0}
    assert d.rounds == min(MAX_ROUNDS, int(40.0 // 6.0))  # rounds fit in the budget
    assert runs.count("plain") == d.rounds + 1  # the warm-up, then one run per round
    assert c.form(("k",), 5).name == "fast"
    before = len(runs)
    assert c.decide(("k",), 6) == ("fast", 6) and runs[before:] == ["fast"]  # not timed again


def test_a_tie_keeps_the_plain_form_and_a_slower_other_form_loses():
    for other in (2.0, 2.5):
        clock, runs = Clock(), []
        c = Choice("t", [costed(clock, "plain", 2.0, runs), costed(clock, "o", other, runs)],
                    timer=clock, budget=10.0)
        assert c.decide(("k",), 0) == ("plain", 0)


def test_a_product_too_large_for_the_budget_is_not_timed():
    clock, runs = Clock(), []
    c = Choice("t", [costed(clock, "plain", 50.0, runs), costed(clock, "fast", 1.0, runs)],
                timer=clock, budget=10.0)
    assert c.decide(("k",), 1) == ("plain", 1)
    assert runs == ["plain"] and c.decision(("k",)).note == "too large to time"


def test_the_budget_stops_the_rounds_when_the_machine_turns_slow():
    clock, runs = Clock(), []
    cost = {"plain": 1.0}

    def slowing(x):
        clock.now += cost["plain"]
        cost["plain"] *= 100  # load arrives: every run 100 times the last
        return x

    c = Choice("t", [Form("plain", slowing), costed(clock, "o", 1.0, runs)], timer=clock,
               budget=12.0)
    c.decide(("k",), 0)
    assert c.decision(("k",)).rounds == 1  # planned 5 at the warm-up's 1 s per run


def test_each_key_is_timed_once_even_from_many_threads():
    clock, lock = Clock(), threading.Lock()
    inside = {"now": 0, "most": 0, "warm-ups": 0}

    def form(name, cost):
        def fn(x):
            with lock:
                inside["now"] += 1
                inside["most"] = max(inside["most"], inside["now"])
                clock.now += cost
            time.sleep(0.002)  # widens the window in which a second thread could enter
            with lock:
                inside["now"] -= 1
            return (name, x)
        return Form(name, fn)

    c = Choice("t", [form("plain", 2.0), form("fast", 1.0)], timer=lambda: clock.now,
               budget=6.0)
    start = threading.Barrier(8)

    def call():
        start.wait()
        results.append(c.decide(("k",), 1))

    results: list = []
    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [("fast", 1)] * 8 and len(c.decisions()) == 1
    assert inside["most"] == 1  # no two forms ever ran at once: one thread timed the key


@pytest.fixture
def counted(monkeypatch):
    """products.PRODUCT replaced by a choice that counts its timings (fake clock)."""
    clock, runs = Clock(), []
    c = Choice("x @ y", [Form("x @ y", lambda x, y: (runs.append("p"), x @ y)[1],
                              products.PLAIN.into),
                         Form("(y.T @ x.T).T", lambda x, y: products.TRANSPOSED.fn(x, y),
                              products.TRANSPOSED.into)],
               timer=clock, budget=1.0)
    monkeypatch.setattr(products, "PRODUCT", c)
    monkeypatch.setattr(products, "SMALL", 0)
    return c


def test_a_new_dtype_order_or_thread_count_is_timed_anew(counted, monkeypatch):
    x, y = np.ones((6, 5)), np.ones((5, 4))
    products.matmul(x, y)
    products.matmul(x * 2, y)  # same key: no new decision
    assert len(counted.decisions()) == 1
    products.matmul(x.astype(np.float32), y.astype(np.float32))
    assert len(counted.decisions()) == 2
    products.matmul(np.asfortranarray(x), y)
    assert len(counted.decisions()) == 3
    products.matmul(x, y[:, ::2])
    assert len(counted.decisions()) == 4
    monkeypatch.setattr(products, "blas_threads", lambda: 7)
    products.matmul(x, y)
    assert len(counted.decisions()) == 5 and counted.decisions()[-1].key[-1] == 7
    keys = [d.key for d in counted.decisions()]
    assert len(set(keys)) == 5


def test_small_products_and_vectors_are_never_timed(monkeypatch):
    clock, runs = Clock(), []
    c = Choice("x @ y", [costed(clock, "x @ y", 1.0, runs)], timer=clock)
    monkeypatch.setattr(products, "PRODUCT", c)
    for x, y in ((np.ones((60, 60)), np.ones((60, 30))), (np.ones(500), np.ones((500, 400))),
                 (np.ones((1, 900)), np.ones((900, 900)))):
        assert np.array_equal(products.matmul(x, y), x @ y)
    assert runs == [] and c.decisions() == []


def test_a_choice_needs_a_form():
    with pytest.raises(ValueError, match="Choice: expected at least one form, got none"):
        Choice("empty", [])
