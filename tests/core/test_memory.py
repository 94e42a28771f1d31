"""Memory: graphs hold no reference cycles, and training loops do not grow.

With the cyclic garbage collector off, a dropped loss must free its whole graph through
reference counting alone (weakrefs to the intermediate tensors die at ``del loss``); 1,000
training steps keep tracemalloc's peak flat.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from contextlib import contextmanager

import numpy as np
import pytest
from helpers import SLACK, gc_off, graph_of, peaks

import tinygrad_lc as tg
from tinygrad_lc import Tensor, losses, models, optim, regularizers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5))
Y = RNG.integers(0, 3, size=8)




def _hand_svm(W, b):
    scores = Tensor(X) @ W + b
    correct = scores[np.arange(len(Y)), Y].reshape(-1, 1)
    margins = tg.maximum(0, scores - correct + 1.0)
    return margins.sum() / len(Y) + 0.1 * (W * W).sum()


BUILDERS = {
    "svm by hand": _hand_svm,
    "softmax by hand": lambda W, b: -(Tensor(X) @ W + b).log_softmax(axis=1)[
        np.arange(len(Y)), Y].mean(),
    "shapes and joins": lambda W, b: tg.concatenate([W.T, b.reshape(1, 3).T], axis=1)
    .transpose().abs().max(axis=0).logsumexp() + tg.stack([b, b.exp()]).softmax(0).sum(),
    "repeated index": lambda W, b: (W[np.array([0, 0, 1])] ** 2).sum() + b.sqrt().sum(),
}


def _params():
    W = Tensor(RNG.normal(size=(5, 3)), requires_grad=True, name="W")
    b = Tensor(np.abs(RNG.normal(size=3)) + 0.5, requires_grad=True, name="b")
    return W, b


def _assert_freed_by_refcount(build, backward=True, mode=None):
    W, b = _params()
    with gc_off():
        if mode is None:
            loss = build(W, b)
        else:
            with mode():
                loss = build(W, b)
        if backward:
            loss.backward()
        refs = [weakref.ref(t) for t in graph_of(loss) if t is not W and t is not b]
        assert len(refs) >= 4
        del loss
        alive = [r() for r in refs if r() is not None]
        assert alive == [], f"{len(alive)} tensors survive: ops {[t.op for t in alive]}"
    if backward:  # the backward ran through the graph: W holds a real, nonzero gradient
        assert W.grad.shape == W.shape and np.isfinite(W.grad).all() and W.grad.any()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_dropped_graph_is_freed_without_the_cycle_collector(name):
    _assert_freed_by_refcount(BUILDERS[name], backward=False)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_graph_is_freed_after_backward_too(name):
    _assert_freed_by_refcount(BUILDERS[name], backward=True)


def test_graph_is_freed_under_scopes_and_anomaly_mode():
    @contextmanager
    def modes():
        with tg.detect_anomaly(), tg.scope("loss"):
            yield

    _assert_freed_by_refcount(_hand_svm, mode=modes)


def test_graph_is_freed_after_a_refused_backward():
    def changed_then_backward(W, b):
        loss = _hand_svm(W, b)
        W.data = W.data + 1
        with pytest.raises(RuntimeError, match="changed in place"):
            loss.backward()
        return loss

    W, b = _params()
    with gc_off():
        loss = changed_then_backward(W, b)
        refs = [weakref.ref(t) for t in graph_of(loss) if t is not W and t is not b]
        del loss
        assert all(r() is None for r in refs)


def test_the_lecture_losses_free_their_graphs():
    for loss_fn in (losses.svm_loss, losses.softmax_loss):
        _assert_freed_by_refcount(
            lambda W, b, f=loss_fn: f(Tensor(X) @ W + b, Y) + 2.5 * regularizers.l2(W))


def test_the_check_would_see_a_cycle():
    W, b = _params()
    with gc_off():
        loss = _hand_svm(W, b)
        loss.name = "cyclic"
        holder = [loss]
        holder.append(holder)  # a cycle that keeps the graph alive until gc runs
        ref = weakref.ref(loss.parents[0])
        del loss, holder
        assert ref() is not None
    gc.collect()
    assert ref() is None


# ---------------------------------------------------------------- long training


def _manual_trainer(keep=None):
    W, b = _params()

    def step():
        W.zero_grad()
        b.zero_grad()
        loss = _hand_svm(W, b)
        loss.backward()
        W.data -= 1e-2 * W.grad
        b.data -= 1e-2 * b.grad
        if keep is not None:
            keep.append(loss)  # the leak the test must be able to see

    return step




def test_manual_training_loop_keeps_peak_memory_flat():
    early, late = peaks(_manual_trainer())
    assert late - early <= SLACK, (early, late)


def test_peak_check_sees_a_leaking_loop():
    early, late = peaks(_manual_trainer(keep=[]))
    assert late - early > 10 * SLACK, (early, late)


def test_sgd_training_loop_keeps_peak_memory_flat():
    W, b = _params()
    opt = optim.SGD([W, b], lr=1e-2, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = losses.svm_loss(Tensor(X) @ W + b, Y) + 0.1 * regularizers.l2(W)
        loss.backward()
        opt.step()

    early, late = peaks(step)
    assert late - early <= SLACK, (early, late)


def test_linear_classifier_fit_keeps_peak_memory_flat():
    rng = np.random.default_rng(1)
    Xs, ys = rng.normal(size=(60, 6)), rng.integers(0, 3, size=60)
    model = models.LinearClassifier(6, 3, loss="softmax", reg=1e-3, seed=0)
    peaks: dict = {}

    def callback(step, loss):
        if step in (100, 900):
            tracemalloc.reset_peak()
        if step in (199, 999):
            peaks[step] = tracemalloc.get_traced_memory()[1]

    tracemalloc.start()
    try:
        history = model.fit(Xs, ys, lr=1e-2, num_iters=1000, batch_size=20, callback=callback)
    finally:
        tracemalloc.stop()
    assert len(history) == 1000
    # the loss history grows by one float per step (~32 bytes): inside the slack
    assert peaks[999] - peaks[199] <= SLACK, peaks
