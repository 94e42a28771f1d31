"""Tests for tinygrad_lc.core.modes across threads and contexts: each has its own recording modes.

``no_grad``, ``enable_grad``, ``scope`` and ``detect_anomaly`` switch the modes of the running
thread (and ``contextvars`` context) only; leaving a block restores the state it found.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor


@pytest.fixture
def fast_switching():
    """Make CPython switch threads every microsecond so the threads' ops interleave densely."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run_threads(targets) -> None:
    """Start one thread per target, join them all and re-raise the first error one hit."""
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 (reported to the main thread)
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_eight_threads_each_op_has_the_grad_mode_and_scope_of_its_own_thread(fast_switching):
    n_ops, n_threads = 1_000, 8
    start = threading.Barrier(n_threads)
    seen: dict[int, list[tuple[bool, str]]] = {}
    grads: dict[int, np.ndarray] = {}

    def quiet(i: int):
        # inside no_grad() and a scope, entered and left again every 10 ops so that the
        # switches happen while the recording threads run their ops
        def run():
            w = Tensor(np.full(3, 1.0 + i), requires_grad=True)
            out = seen.setdefault(i, [])
            start.wait()
            h = w
            for k in range(n_ops // 10):
                with tg.no_grad(), tg.scope(f"quiet{i}"), tg.scope(f"block{k}"):
                    for _ in range(10):
                        h = h * 1.0 + 0.0
                        out.append((h.requires_grad, h.scope))
        return run

    def recording(i: int):
        def run():
            w = Tensor(np.full(3, 1.0 + i), requires_grad=True)
            out = seen.setdefault(i, [])
            start.wait()
            h = w
            for _ in range(n_ops):
                h = h * 1.001
                out.append((h.requires_grad, h.scope))
            h.sum().backward()
            grads[i] = w.grad
        return run

    half = n_threads // 2
    _run_threads([quiet(i) for i in range(half)] + [recording(i) for i in range(half, n_threads)])

    for i in range(half):
        wrong = [(k, op) for k, op in enumerate(seen[i])
                 if op != (False, f"quiet{i}/block{k // 10}")]
        assert len(seen[i]) == n_ops and not wrong, (i, wrong[:3])
    for i in range(half, n_threads):
        wrong = [(k, op) for k, op in enumerate(seen[i]) if op != (True, "")]
        assert len(seen[i]) == n_ops and not wrong, (i, wrong[:3])
        np.testing.assert_allclose(grads[i], np.full(3, 1.001**n_ops), rtol=1e-12)
    assert _modes_seen_by_an_op() == (True, "", False)  # the main thread never switched


def _modes_seen_by_an_op() -> tuple[bool, str, bool]:
    """(records a graph, scope, checks anomalies) as a new op sees them."""
    out = Tensor([1.0], requires_grad=True) * 1.0
    try:
        with np.errstate(divide="ignore"):
            Tensor([0.0]).log()  # -inf: an AnomalyError only inside detect_anomaly()
        anomaly = False
    except tg.AnomalyError:
        anomaly = True
    return out.requires_grad, out.scope, anomaly


def _while_other_thread_is_inside(block, action):
    """Run ``action()`` in this thread while another thread sits inside ``with block():``."""
    entered, done = threading.Event(), threading.Event()

    def other():
        with block():
            entered.set()
            assert done.wait(timeout=60)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(timeout=60)
        return action()
    finally:
        done.set()
        thread.join(timeout=60)


def test_no_grad_in_one_thread_leaves_other_threads_recording():
    w = Tensor([1.0, 2.0], requires_grad=True)
    out = _while_other_thread_is_inside(tg.no_grad, lambda: w * 2)
    assert out.requires_grad and out.op == "mul"


def test_scope_in_one_thread_does_not_name_other_threads_ops():
    w = Tensor([1.0], requires_grad=True)
    out = _while_other_thread_is_inside(lambda: tg.scope("elsewhere"), lambda: w * 2)
    assert out.scope == ""


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_in_one_thread_does_not_check_other_threads():
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = _while_other_thread_is_inside(tg.detect_anomaly, lambda: x.log())  # no AnomalyError
    assert np.isneginf(y.data[0]) and y._where is None


def test_gradchecks_kink_log_in_one_thread_holds_only_that_threads_ops():
    # gradcheck compares the kink states of the ops it evaluates: another thread's relu
    # landing in its log would be reported as a kink of the checked function
    from tinygrad_lc.core import tensor as engine

    logs: list = []

    @contextlib.contextmanager
    def logging():
        with engine.kink_log() as log:
            logs.append(log)
            yield

    out = _while_other_thread_is_inside(logging, lambda: Tensor([-1.0, 2.0]).relu())
    assert out.data.tolist() == [0.0, 2.0] and logs == [[]]
    with engine.kink_log() as mine:
        Tensor([-1.0, 2.0]).relu()
    assert [name for name, _, _ in mine] == ["relu"]


def test_a_new_thread_starts_with_the_default_modes():
    got = {}

    def probe():
        got["op"] = _modes_seen_by_an_op()
        got["modes"] = (tg.is_grad_enabled(), tg.current_scope(), tg.is_anomaly_enabled())

    with tg.no_grad(), tg.scope("parent"), tg.detect_anomaly():
        try:
            _run_threads([probe])
        finally:
            assert got["op"] == (True, "", False)
        assert _modes_seen_by_an_op() == (False, "parent", True)
    assert got["modes"] == (True, "", False)


def test_one_scope_object_entered_from_several_threads_restores_each_threads_state():
    shared = tg.scope("shared")
    steps = [threading.Event() for _ in range(3)]
    seen = {}

    def first():
        try:
            with tg.scope("outer"):
                with shared:
                    steps[0].set()
                    assert steps[1].wait(timeout=30)  # the other thread is inside `shared` now
                seen["first"] = _modes_seen_by_an_op()[1]
        finally:
            steps[2].set()

    def second():
        assert steps[0].wait(timeout=30)
        try:
            with shared:
                steps[1].set()
                assert steps[2].wait(timeout=30)  # the first thread has left `shared` meanwhile
                seen["inside"] = _modes_seen_by_an_op()[1]
            seen["second"] = _modes_seen_by_an_op()[1]
        finally:
            steps[1].set()

    _run_threads([first, second])
    assert seen == {"first": "outer", "inside": "shared", "second": ""}


def test_asyncio_tasks_keep_their_own_modes():
    w = Tensor([1.0], requires_grad=True)

    async def quiet(entered: asyncio.Event, done: asyncio.Event):
        with tg.no_grad(), tg.scope("quiet"):
            entered.set()
            await done.wait()  # the other task runs its op here
            out = w * 2
            return out.requires_grad, out.scope

    async def recording(entered: asyncio.Event, done: asyncio.Event):
        await entered.wait()
        out = w * 2
        done.set()
        return out.requires_grad, out.scope

    async def main():
        entered, done = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(quiet(entered, done), recording(entered, done))

    assert asyncio.run(main()) == [(False, "quiet"), (True, "")]
    assert _modes_seen_by_an_op() == (True, "", False)
