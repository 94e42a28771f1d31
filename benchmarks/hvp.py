"""Hessian-vector product of the full softmax loss against one forward + backward of it.

``L(W) = softmax_loss(X @ W, y) + reg * l2(W)`` with X (N, 3073), W (3073, 10), N = 200 and
1000. ``tg.autodiff.hvp`` takes the forward, a recorded first backward and a plain second one
(double backward); the cheap-gradient principle bounds that at about 4-5 forward + backward
passes, the target here is 3. Both sides run in the same process, BLAS pinned to one thread,
in interleaved rounds (order shuffled per round); the ratio is the median of the per-round
ratios. Times are this process's CPU time (``time.process_time``): with one BLAS thread that is
the wall time of a quiet machine, and other load on a shared machine does not count. Run
``python -m benchmarks hvp`` or alone ``python -m benchmarks.hvp``.
"""

from __future__ import annotations

import sys

import numpy as np

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.autodiff import hvp

from .common import interleaved, main, table

D, C, REG, TARGET = 3073, 10, 2.5e4, 3.0


def _problem(n: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = (rng.integers(0, 256, size=(n, D)) - 127.5).astype(dtype)
    y = rng.integers(0, C, size=n)
    W = (rng.standard_normal((D, C)) * 1e-4).astype(dtype)
    v = rng.standard_normal((D, C)).astype(dtype)
    return X, y, W, v


def _sides(n: int, dtype):
    X, y, W, v = _problem(n, dtype)
    Xt, reg = Tensor(X), dtype(REG)
    loss = lambda w: tg.losses.softmax_loss(Xt @ w, y) + reg * tg.regularizers.l2(w)
    Wt = Tensor(W, requires_grad=True, name="W")

    def forward_backward():
        Wt.grad = None
        loss(Wt).backward()
        return Wt.grad

    def hessian_vector():
        return hvp(loss, Wt, v)[1].data

    return forward_backward, hessian_vector, (loss, W, v)


def _check(loss, W, v) -> None:
    """The HVP agrees with central differences of the gradient along v (float64)."""
    hv = hvp(loss, Tensor(W), v)[1].data
    eps = 1e-7 / np.abs(v).max()
    grads = []
    for s in (eps, -eps):
        w = Tensor(W + s * v, requires_grad=True)
        loss(w).backward()
        grads.append(w.grad)
    fd = (grads[0] - grads[1]) / (2 * eps)
    assert np.abs(hv - fd).max() <= 1e-6 * np.abs(fd).max(), "hvp disagrees with differences"


def measure(n: int, dtype, rounds: int = 21, seed: int = 0) -> tuple:
    """(forward + backward s, hvp s, median ratio, lowest ratio, highest ratio) over rounds,
    all of this process's CPU time."""
    fb, hv, _ = _sides(n, dtype)
    t = interleaved({"fb": fb, "hv": hv}, "fb", rounds, seed=seed, number=5 if n <= 200 else 2)
    hv_t = t["hv"]
    return (t["fb"].cpu_seconds, hv_t.cpu_seconds, hv_t.cpu_ratio, min(hv_t.cpu_ratios),
            max(hv_t.cpu_ratios))


def run() -> str:
    _check(*_sides(200, np.float64)[2])
    rows = []
    for n in (200, 1000):
        for dtype in (np.float64, np.float32):
            t_fb, t_hv, ratio, lo, hi = measure(n, dtype)
            rows.append((n, np.dtype(dtype).name, t_fb * 1e3, t_hv * 1e3, ratio,
                         f"{lo:.2f}-{hi:.2f}", f"<= {TARGET:g}"))
    return table("Hessian-vector product of softmax_loss(X @ W, y) + reg * l2(W) (W 3073x10) vs "
                 "one forward + backward, one BLAS thread (CPU time; median of per-round "
                 "ratios, interleaved rounds)",
                 ("N", "dtype", "fwd+bwd ms", "hvp ms", "ratio", "range", "target"), rows)


if __name__ == "__main__":
    sys.exit(main(run))
