"""tg.compile from several threads at once, and the parts of a signature that are easy to lose
(grad mode, a 0-d input's dtype): each compared bit for bit with eager."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor, losses, regularizers

THREADS = 6


def _problem(k: int, dtype) -> tuple:
    """Thread k's own shapes (so every thread traces its own signatures) and data."""
    rng = np.random.default_rng(k)
    n, d, c = 5 + k, 3 + k % 3, 3 + k % 2
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    W = rng.standard_normal((d, c)).astype(dtype) * 0.5
    return X, y, W


def _loss_of(k: int):
    """A different function per thread: SVM or softmax, with or without the penalty."""
    data = losses.svm_loss if k % 2 else losses.softmax_loss

    def f(W, X, y):
        loss = data(Tensor(X) @ W, y)
        return loss + 0.1 * regularizers.l2(W) if k % 3 else loss

    return f


def _eager_and_compiled(f, W0, X, y) -> tuple:
    results = []
    for fn in (f, tg.compile(f)):
        W = Tensor(W0.copy(), requires_grad=True)
        loss = fn(W, X, y)
        loss.backward()
        results.append((loss.item(), W.grad.copy(), fn))
    return results


def _run_in_threads(work) -> None:
    """``work(k)`` for k = 0 .. THREADS - 1, each in its own thread, all joined."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_threads_tracing_and_replaying_their_own_functions_match_eager_bit_for_bit():
    barrier = threading.Barrier(THREADS)
    problems: list[str] = []

    def work(k: int) -> None:
        try:
            dtype = np.float32 if k % 2 else np.float64
            X, y, W0 = _problem(k, dtype)
            f = _loss_of(k)
            barrier.wait()  # every thread traces at the same moment, again and again
            for step in range(40):
                if step % 4 == 0:  # a fresh compiled function: traced on its first call
                    compiled = tg.compile(f)
                W_e = Tensor(W0 + step * 0.01, requires_grad=True)
                eager = f(W_e, X, y)
                eager.backward()
                W_c = Tensor(W0 + step * 0.01, requires_grad=True)
                replay = compiled(W_c, X, y)
                replay.backward()
                if replay.item() != eager.item() or \
                        not np.array_equal(W_c.grad, W_e.grad) or W_c.grad.dtype != dtype:
                    problems.append(f"thread {k} step {step}: {replay.item()!r} vs "
                                    f"{eager.item()!r}")
                    return
            if compiled.traces != 1:
                problems.append(f"thread {k}: traced {compiled.traces} times, not once")
            assert step == 39
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            problems.append(f"thread {k}: {type(exc).__name__}: {exc}")

    _run_in_threads(work)
    assert problems == []


def test_one_compiled_function_shared_by_threads_with_different_signatures():
    f = _loss_of(1)
    compiled = tg.compile(f, cache_size=THREADS)
    barrier = threading.Barrier(THREADS)
    problems: list[str] = []

    def work(k: int) -> None:
        try:
            X, y, W0 = _problem(k, np.float64)
            barrier.wait()
            for _ in range(10):
                W_e, W_c = (Tensor(W0.copy(), requires_grad=True) for _ in range(2))
                eager, replay = f(W_e, X, y), compiled(W_c, X, y)
                eager.backward()
                replay.backward()
                if replay.item() != eager.item() or not np.array_equal(W_c.grad, W_e.grad):
                    problems.append(f"thread {k}: {replay.item()!r} vs {eager.item()!r}")
                    return
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            problems.append(f"thread {k}: {type(exc).__name__}: {exc}")

    _run_in_threads(work)
    assert problems == []
    assert compiled.traces == THREADS  # one per shape, none twice


# ---------------------------------------------------------------- the signature
def test_grad_mode_is_part_of_the_signature():
    f = _loss_of(2)
    compiled = tg.compile(f)
    X, y, W0 = _problem(2, np.float64)
    W = Tensor(W0, requires_grad=True)
    with_grad = compiled(W, X, y)
    with tg.no_grad():
        without = compiled(W, X, y)
        eager = f(W, X, y)
    assert compiled.traces == 2  # a program that records nothing is another program
    assert with_grad.requires_grad and not without.requires_grad
    assert without.requires_grad == eager.requires_grad and without.item() == eager.item()
    with pytest.raises(RuntimeError):
        without.backward()  # nothing was recorded, as in eager


@pytest.mark.parametrize("w_dtype", [np.float32, np.float64])
def test_a_0d_inputs_dtype_is_part_of_the_signature(w_dtype):
    """Only the 0-d input's dtype changes between the calls: the result and the gradients
    follow NumPy's promotion as eager does, which a program traced for the other dtype (its
    buffers allocated for it) would not."""

    def f(s, W):
        return (s * W + s).sum()

    compiled = tg.compile(f)
    W0 = np.array([1.0, 1.0 / 3.0, 2.0 / 3.0])
    for s_dtype in (np.float32, np.float64, np.float32):
        s, s_e = (Tensor(np.array(0.1, dtype=s_dtype), requires_grad=True) for _ in range(2))
        W, W_e = (Tensor(W0.astype(w_dtype), requires_grad=True) for _ in range(2))
        replay, eager = compiled(s, W), f(s_e, W_e)
        replay.backward()
        eager.backward()
        assert replay.dtype == eager.dtype and replay.item() == eager.item()
        assert s.grad.dtype == s_e.grad.dtype == s_dtype
        assert np.array_equal(s.grad, s_e.grad) and np.array_equal(W.grad, W_e.grad)
    assert compiled.traces == 2  # the third call replays the first's program
