"""One training run: 300 SGD steps, batch 200, on X of 10,000 x 3073 (CIFAR-10's shape).

tinygrad_lc's ``LinearClassifier.fit`` (SVM + L2, bias trick in X) beside the same loop in plain
NumPy with the hand-written loss and gradient of ``benchmarks/losses.py``, the same minibatches
(the same generator state) and the same initial W, so both end at the same W. Both sides draw
their initial W inside the timed call, and are timed interleaved.
"""

from __future__ import annotations

import sys

import numpy as np

from tinygrad_lc.models import LinearClassifier

from .common import interleaved, main, spread, table
from .losses import svm_numpy

N, D, C = 10_000, 3073, 10
STEPS, BATCH, LR, REG = 300, 200, 1e-7, 2.5e4


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(N, D)).astype(np.float64) - 127.5
    X[:, -1] = 1.0  # the bias trick's column of ones
    y = rng.integers(0, C, size=N)
    return X, y


def _numpy_loop(X, y, seed: int = 0) -> np.ndarray:
    """SGD from the same initial W and minibatches as ``LinearClassifier(..., seed=seed)``."""
    rng = np.random.default_rng(seed)
    W = 1e-4 * rng.standard_normal((D, C))
    for _ in range(STEPS):
        idx = rng.integers(0, N, size=BATCH)
        _, dW = svm_numpy(W, X[idx], y[idx], REG)
        W -= LR * dW
    return W


def _fit(X, y) -> LinearClassifier:
    model = LinearClassifier(D, C, loss="svm", reg=REG, bias=False, seed=0)
    model.fit(X, y, lr=LR, num_iters=STEPS, batch_size=BATCH)
    return model


def run(rounds: int = 5) -> str:
    X, y = _data()
    W_numpy = _numpy_loop(X, y)  # also the warm-up of both sides
    assert np.abs(_fit(X, y).W.data - W_numpy).max() <= 1e-9 * np.abs(W_numpy).max(), \
        "runs diverged"
    t = interleaved({"numpy": lambda: _numpy_loop(X, y), "ours": lambda: _fit(X, y)},
                    "numpy", rounds, warmup=0)
    return table(f"Training: {STEPS} SGD steps, batch {BATCH}, X {N:,} x {D} ({rounds} "
                 "interleaved rounds, median seconds)",
                 ("implementation", "seconds", "ratio", "ratio IQR", "target"),
                 [("plain NumPy loop, hand-written gradient", t["numpy"].seconds, 1.0, "", ""),
                  ("LinearClassifier.fit", t["ours"].seconds, t["ours"].ratio,
                   spread(t["ours"]), "<= 1.10")])


if __name__ == "__main__":
    sys.exit(main(run))
