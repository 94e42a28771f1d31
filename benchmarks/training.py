"""One training run: 300 SGD steps, batch 200, on X of 10,000 x 3073 (CIFAR-10's shape).

tinygrad_lc's ``LinearClassifier.fit`` (SVM + L2, bias trick in X) beside the same loop in plain
NumPy with the hand-written loss and gradient of ``benchmarks/losses.py``, the same minibatches
(the same generator state) and the same initial W, so both end at the same W.
"""

from __future__ import annotations

import time

import numpy as np

from tinygrad_lc.models import LinearClassifier

from .common import table
from .losses import svm_numpy

N, D, C = 10_000, 3073, 10
STEPS, BATCH, LR, REG = 300, 200, 1e-7, 2.5e4


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(N, D)).astype(np.float64) - 127.5
    X[:, -1] = 1.0  # the bias trick's column of ones
    y = rng.integers(0, C, size=N)
    return X, y


def _numpy_loop(X, y, W0, rng_state) -> np.ndarray:
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    W = W0.copy()
    for _ in range(STEPS):
        idx = rng.integers(0, N, size=BATCH)
        _, dW = svm_numpy(W, X[idx], y[idx], REG)
        W -= LR * dW
    return W


def run(repeat: int = 3) -> str:
    X, y = _data()
    t_ours, t_numpy = [], []
    for _ in range(repeat):
        model = LinearClassifier(D, C, loss="svm", reg=REG, bias=False, seed=0)
        W0, state = model.W.data.copy(), model.rng.bit_generator.state
        start = time.perf_counter()
        model.fit(X, y, lr=LR, num_iters=STEPS, batch_size=BATCH)
        t_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        W_numpy = _numpy_loop(X, y, W0, state)
        t_numpy.append(time.perf_counter() - start)
        scale = np.abs(W_numpy).max()
        assert np.abs(model.W.data - W_numpy).max() <= 1e-9 * scale, "runs diverged"
    ours, plain = min(t_ours), min(t_numpy)
    return table(f"Training: {STEPS} SGD steps, batch {BATCH}, X {N:,} x {D} (best of {repeat})",
                 ("implementation", "seconds", "ratio", "target"),
                 [("plain NumPy loop, hand-written gradient", plain, 1.0, ""),
                  ("LinearClassifier.fit", ours, ours / plain, "<= 1.10")])


if __name__ == "__main__":
    print(run())
