"""Training on the compiled path: fit(compile=True), the default, gives the same run bit for bit
as fit(compile=False); 1,000 compiled steps keep memory flat."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
from helpers import peaks

import tinygrad_lc as tg
from tinygrad_lc import Tensor, losses, optim, regularizers
from tinygrad_lc.data import make_blobs
from tinygrad_lc.models import LinearClassifier, MLPClassifier

X, Y = make_blobs(40, num_classes=4, seed=0, num_features=6)


def _same_run(a, b, ha, hb):
    assert ha == hb  # the loss of every step, as Python floats: bit for bit
    for p, q in zip(a.params, b.params):
        assert p.dtype == q.dtype and np.array_equal(p.data, q.data)
    assert a.step_count == b.step_count and a.last_batch_accuracy == b.last_batch_accuracy


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("loss,reg,regularizer", [
    ("svm", 0.0, "l2"), ("svm", 0.1, "l2"), ("softmax", 0.05, "l1"),
    ("softmax", 0.05, "elastic_net"), ("svm", 0.02, "elastic_net")])
def test_linear_fit_compiled_is_the_eager_run(loss, reg, regularizer, dtype):
    runs = []
    for compile_ in (False, True):
        m = LinearClassifier(6, 4, loss=loss, reg=reg, regularizer=regularizer, dtype=dtype,
                             seed=3, delta=0.5)
        h = m.fit(X, Y, lr=0.05, num_iters=30, batch_size=16, momentum=0.9, lr_decay=0.9,
                  compile=compile_)
        h += m.fit(X, Y, num_iters=7, batch_size=16, resume=True, compile=compile_)
        runs.append((m, h))
    _same_run(runs[0][0], runs[1][0], runs[0][1], runs[1][1])


def test_linear_fit_without_bias():
    runs = []
    for compile_ in (False, True):
        m = LinearClassifier(6, 4, bias=False, reg=0.1, seed=1)
        runs.append((m, m.fit(X, Y, lr=0.1, num_iters=20, batch_size=8, compile=compile_)))
    _same_run(runs[0][0], runs[1][0], runs[0][1], runs[1][1])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_mlp_fit_compiled_is_the_eager_run(loss, optimizer):
    runs = []
    for compile_ in (False, True):
        m = MLPClassifier(6, 4, hidden=(10, 5), loss=loss, reg=0.01, optimizer=optimizer,
                          dtype=np.float32 if optimizer == "adam" else np.float64, seed=2)
        h = m.fit(X, Y, lr=0.01, num_iters=25, batch_size=16, X_val=X, y_val=Y,
                  compile=compile_)
        runs.append((m, h))
    _same_run(runs[0][0], runs[1][0], runs[0][1], runs[1][1])
    assert runs[0][0].history == runs[1][0].history


@pytest.mark.filterwarnings("ignore:fit. the initial data loss")
@pytest.mark.parametrize("model", [LinearClassifier, MLPClassifier])
def test_divergence_is_the_same_error_compiled(model):
    messages = []
    for compile_ in (False, True):
        m = model(6, 4, seed=0, **({"weight_scale": 1.0} if model is MLPClassifier else {}))
        Xbig = X * 1e150
        with pytest.raises(FloatingPointError) as info:
            m.fit(Xbig, Y, lr=1e10, num_iters=50, batch_size=8, compile=compile_)
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "diverged" in messages[0]


def test_the_compile_flag_is_checked():
    with pytest.raises(TypeError, match="fit: compile must be True or False, got 'yes'"):
        LinearClassifier(6, 4).fit(X, Y, compile="yes")
    with pytest.raises(TypeError, match="fit: compile must be True or False"):
        MLPClassifier(6, 4).fit(X, Y, compile=1)


# ---------------------------------------------------------------- memory


SLACK = 256 * 1024  # CPython's free lists (see tests/core/test_memory.py); a leak adds megabytes


def _compiled_trainer(keep=None):
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(64, 20)), rng.integers(0, 5, 64)
    W = Tensor(rng.normal(size=(20, 5)) * 1e-2, requires_grad=True)
    opt = optim.SGD([W], lr=1e-2, momentum=0.9)
    cf = tg.compile(lambda W, X, y: losses.svm_loss(Tensor(X) @ W, y)
                    + 0.1 * regularizers.l2(W))

    def step():
        idx = rng.integers(0, 64, size=16)
        opt.zero_grad()
        loss = cf(W, Xs[idx], ys[idx])
        loss.backward()
        opt.step()
        if keep is not None:
            keep.append(loss)  # a loss kept with its pending values: what the test must see

    return step, cf


def test_1000_compiled_steps_keep_memory_flat():
    step, cf = _compiled_trainer()
    early, late = peaks(step)
    assert late - early <= SLACK, (early, late)
    assert cf.traces == 1


def test_the_memory_check_sees_kept_losses():
    step, _ = _compiled_trainer(keep=[])
    early, late = peaks(step)
    assert late - early > 4 * SLACK, (early, late)


def test_a_long_compiled_fit_keeps_memory_flat():
    peaks = []

    def watch(step, loss):  # fit calls it after every step
        if step in (100, 900):
            gc.collect()
            tracemalloc.reset_peak()
        if step in (199, 999):
            peaks.append(tracemalloc.get_traced_memory()[1])

    m = LinearClassifier(6, 4, reg=0.1, seed=0)
    tracemalloc.start()
    try:
        m.fit(X, Y, num_iters=1000, batch_size=16, callback=watch)
    finally:
        tracemalloc.stop()
    early, late = peaks
    assert late - early <= SLACK, (early, late)
