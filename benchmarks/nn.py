"""The two-layer net, one forward + backward: tinygrad_lc's ``nn.MLP`` vs hand-written NumPy.

``softmax_loss(MLP([3073, 100, 10])(X), y) + reg * (sum W1**2 + sum W2**2)`` at batch 200,
float64 and float32, against the same net's forward and backward written out in NumPy (the
classic cs231n two-layer net, written tight: in place where it can, and W1's gradient in
W1's memory layout, so adding the L2 term's gradient does not cross layouts). Both run in
the same process with BLAS pinned to one thread, in interleaved rounds (``common.interleaved``:
order shuffled per round), so a busy machine slows both alike; the ratios reported are the
medians of the rounds' ratios, of wall time and of CPU time.

Run it with ``python -m benchmarks nn`` or alone with ``python -m benchmarks.nn``.
"""

from __future__ import annotations

import sys

import numpy as np

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.nn import MLP

from .common import interleaved, main, table

N, D, H, C, REG = 200, 3073, 100, 10, 1e-3
TARGET = 1.15


def numpy_two_layer(W1, b1, W2, b2, X, y, reg):
    """Loss and gradients of the two-layer ReLU net with a softmax loss and L2 on W1, W2."""
    n = X.shape[0]
    rows = np.arange(n)
    h = X @ W1
    h += b1
    np.maximum(h, 0, out=h)
    s = h @ W2
    s += b2
    s -= s.max(axis=1, keepdims=True)
    e = np.exp(s)
    z = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(z[:, 0]) - s[rows, y]) + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    e /= z  # softmax; d loss / d s = (softmax - onehot) / n
    e[rows, y] -= 1
    e /= n
    dW2 = h.T @ e
    dW2 += (2 * reg) * W2
    db2 = e.sum(axis=0)
    dh = e @ W2.T
    dh *= h > 0
    dW1 = X.T @ dh  # C-ordered like W1, so the L2 term adds without crossing layouts
    dW1 += (2 * reg) * W1
    db1 = dh.sum(axis=0)
    return loss, (dW1, db1, dW2, db2)


def _problem(dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    X[:, -1] = 1.0  # the bias trick's column, as in the command line's data
    y = rng.integers(0, C, size=N)
    net = MLP([D, H, C], seed=seed, dtype=dtype)
    for m in (net[0], net[2]):
        m.b.data = (0.1 * rng.standard_normal(m.b.shape)).astype(dtype)
    return X, y, net


def _ours(net, X, y, reg):
    Xt = Tensor(X, name="X")
    weights = [net[0].W, net[2].W]

    def step():
        net.zero_grad()
        loss = tg.losses.softmax_loss(net(Xt), y) + reg * tg.regularizers.l2(weights)
        loss.backward(retain_grads=False)
        return loss.item(), [p.grad for p in net.parameters()]

    return step


def _compare(dtype, rounds: int, number: int) -> tuple:
    """One row of the table: both sides checked against each other, then timed."""
    X, y, net = _problem(dtype)
    reg = dtype(REG)
    W1, b1, W2, b2 = (p.data for p in net.parameters())
    ref = lambda: numpy_two_layer(W1, b1, W2, b2, X, y, reg)
    ours = _ours(net, X, y, reg)
    (l_ref, g_ref), (l_ours, g_ours) = ref(), ours()
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert abs(l_ours - l_ref) <= tol * abs(l_ref), (dtype, l_ours, l_ref)
    for a, b in zip(g_ours, g_ref):
        assert np.abs(a - b).max() <= tol * np.abs(b).max(), dtype
    t = interleaved({"numpy": ref, "ours": ours}, "numpy", rounds, number=number)
    return (np.dtype(dtype).name, t["numpy"].seconds * 1e3, t["ours"].seconds * 1e3,
            t["ours"].ratio, t["ours"].cpu_ratio, f"<= {TARGET}")


def run(rounds: int = 31, number: int = 5) -> str:
    rows = [_compare(dtype, rounds, number) for dtype in (np.float64, np.float32)]
    return table(f"Two-layer net forward + backward, batch {N}, {D}-{H}-{C}, softmax + L2, "
                 f"one BLAS thread ({rounds} interleaved rounds of {number} calls; ratios are "
                 "medians over rounds, of wall time and of CPU time)",
                 ("dtype", "NumPy ms", "tinygrad_lc ms", "ratio", "CPU-time ratio", "target"),
                 rows)


if __name__ == "__main__":
    sys.exit(main(run))
