"""The lecture's full loss, forward + backward: tinygrad_lc vs hand-written vectorized NumPy.

``L = loss(X @ W, y) + reg * sum(W**2)`` for the SVM and softmax losses with X (N, 3073) and
W (3073, 10), N = 200 and 1000, float64 and float32. The NumPy side is the classic analytic
loss-and-gradient written tight; the L2 term is the same dot product ``w . w`` of the flattened
W on both sides (the cheapest form). Both are timed interleaved in one process, BLAS pinned to
one thread.
Memory: tracemalloc's peak over one forward + backward, and over 1,000 training steps.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc

import numpy as np

import tinygrad_lc as tg
from tinygrad_lc import Tensor

from .common import interleaved, main, spread, table

D, C, REG = 3073, 10, 2.5e4


def _sum_of_squares(W: np.ndarray):
    """``sum W**2`` as the dot product of the flattened W with itself, as ``regularizers.l2``."""
    w = W.reshape(-1)
    return w @ w


def svm_numpy(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float):
    """Multiclass SVM loss and its gradient, vectorized (delta = 1)."""
    n = X.shape[0]
    rows = np.arange(n)
    S = X @ W
    M = S - S[rows, y][:, None] + 1.0
    M[rows, y] = 0.0
    np.maximum(M, 0.0, out=M)
    loss = M.sum() / n + reg * _sum_of_squares(W)
    G = (M > 0).astype(S.dtype)
    G[rows, y] = -G.sum(axis=1)
    G /= n
    dW = np.empty_like(W, order="F")
    np.matmul(G.T, X, out=dW.T)  # (G^T X)^T: the fastest layout for this skinny product
    dW += (2 * reg) * W
    return loss, dW


def softmax_numpy(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float):
    """Softmax cross-entropy loss and its gradient, vectorized and max-shifted."""
    n = X.shape[0]
    rows = np.arange(n)
    S = X @ W
    S -= S.max(axis=1, keepdims=True)
    E = np.exp(S)
    Z = E.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(Z[:, 0]) - S[rows, y]) + reg * _sum_of_squares(W)
    E /= Z
    E[rows, y] -= 1.0
    E /= n
    dW = np.empty_like(W, order="F")
    np.matmul(E.T, X, out=dW.T)
    dW += (2 * reg) * W
    return loss, dW


LOSSES = {"svm": (svm_numpy, lambda s, y: tg.losses.svm_loss(s, y)),
          "softmax": (softmax_numpy, lambda s, y: tg.losses.softmax_loss(s, y))}


def _problem(n: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = (rng.integers(0, 256, size=(n, D)) - 127.5).astype(dtype)
    y = rng.integers(0, C, size=n)
    W = (rng.standard_normal((D, C)) * 1e-4).astype(dtype)
    return X, y, W


def _ours(loss_fn, X, y, W, retain_grads: bool = True):
    Wt = Tensor(W, requires_grad=True, name="W")
    Xt = Tensor(X, name="X")
    reg = W.dtype.type(REG)

    def step():
        Wt.grad = None
        loss = loss_fn(Xt @ Wt, y) + reg * tg.regularizers.l2(Wt)
        loss.backward(retain_grads=retain_grads)
        return loss.item(), Wt.grad

    return step


def _peak(fn) -> int:
    fn()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def run(rounds: int = 41) -> str:
    rows, mem_rows = [], []
    for name, (numpy_fn, loss_fn) in LOSSES.items():
        for dtype in (np.float64, np.float32):
            for n in (200, 1000):
                X, y, W = _problem(n, dtype)
                ours = _ours(loss_fn, X, y, W)
                reg = dtype(REG)
                ref = lambda f=numpy_fn, W=W, X=X, y=y, r=reg: f(W, X, y, r)
                l_ours, g_ours = ours()
                l_ref, g_ref = ref()
                tol = 1e-10 if dtype == np.float64 else 1e-4
                scale = np.abs(g_ref).max()
                assert abs(l_ours - l_ref) <= tol * abs(l_ref), (name, l_ours, l_ref)
                assert np.abs(g_ours - g_ref).max() <= tol * scale, (name, dtype)
                t = interleaved({"numpy": ref, "ours": ours}, "numpy", rounds)
                target = 1.10 if n == 1000 else 1.25
                rows.append((name, np.dtype(dtype).name, n, t["numpy"].seconds * 1e3,
                             t["ours"].seconds * 1e3, t["ours"].ratio, spread(t["ours"]),
                             f"<= {target}"))
                if dtype == np.float64:
                    lean = _ours(loss_fn, X, y, W, retain_grads=False)
                    p_ref, p_ours, p_lean = _peak(ref), _peak(ours), _peak(lean)
                    mem_rows.append((name, n, p_ref / 1e3, p_ours / 1e3, p_ours / p_ref,
                                     p_lean / 1e3, p_lean / p_ref, "<= 1.5"))
    out = table(f"Loss forward + backward (X @ W, W 3073x10, + L2), one BLAS thread, {rounds} "
                "interleaved rounds (median ms; ratio: median of per-round ratios)",
                ("loss", "dtype", "N", "NumPy ms", "tinygrad_lc ms", "ratio", "ratio IQR",
                 "target"), rows)
    out += table("Peak memory of one forward + backward (tracemalloc); 'all grads' keeps .grad on "
                 "every intermediate (the default), 'leaf grads' is backward(retain_grads=False)",
                 ("loss", "N", "NumPy kB", "all grads kB", "ratio", "leaf grads kB", "ratio",
                  "target"), mem_rows)
    out += _training_memory()
    return out


def _training_memory(steps: int = 1000) -> str:
    """tracemalloc's peak over the first and last 100 of ``steps`` SGD steps (no growth)."""
    X, y, W = _problem(200, np.float64, seed=1)
    Wt = Tensor(W, requires_grad=True)
    Xt = Tensor(X)
    opt = tg.optim.SGD([Wt], lr=1e-7, momentum=0.9)
    peaks = []
    tracemalloc.start()
    for i in range(steps):
        if i % 100 == 0:
            gc.collect()  # start each window from the same state (NumPy/Python free lists)
            tracemalloc.reset_peak()
        opt.zero_grad()
        loss = tg.losses.svm_loss(Xt @ Wt, y) + REG * tg.regularizers.l2(Wt)
        loss.backward()
        opt.step()
        if i % 100 == 99:
            peaks.append(tracemalloc.get_traced_memory()[1] / 1e3)
    tracemalloc.stop()
    return table(f"Memory over {steps} SGD steps (N = 200): peak per 100 steps must stay flat",
                 ("steps", "peak kB"), [(f"{100 * k + 1}-{100 * k + 100}", p)
                                        for k, p in enumerate(peaks) if k in (0, 1, 4, 9)])


if __name__ == "__main__":
    sys.exit(main(run))
