"""tg.compile against hand-written vectorized NumPy, side by side in one run.

Every comparison is interleaved: each round calls every side once, in a freshly shuffled order,
with BLAS pinned to one thread; a ratio is the median over rounds of that round's time over
the hand-written NumPy side's time in the same round (load on the shared cores hits both).

1. The lecture's loss, forward + backward: ``loss(X @ W, y) + reg * l2(W)`` (SVM and softmax,
   float64 and float32, N = 200 and 1000, D = 3073, C = 10), compiled and eager, with the
   data passed as NumPy arrays on every call; the floor is the two matrix products alone.
2. Training: 300 SGD steps at batch 200 over 10,000 x 3073, ``LinearClassifier.fit`` compiled
   (the default) and eager, and the same loop written with ``tg.compile`` and ``SGD`` outside
   ``fit``, against the plain NumPy loop; all end at the same W.
3. Replay cost per primitive on the small-op chain of ``benchmarks/engine.py`` (2,000 ops on
   a (10,) tensor): the replay's time over its number of steps, against NumPy's own dispatch
   floor (one tiny ufunc call per step in a plain Python loop) in the same run.
4. Memory: tracemalloc's peak over one call, compiled (plus the buffers its program keeps
   between calls) against the hand-written code.

Run ``python -m benchmarks compile`` (with the other sections: ``python -m benchmarks``), or
``python -m benchmarks.compile`` alone (add ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc

import numpy as np

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core.checks import count_nonfinite
from tinygrad_lc.losses import softmax_loss, svm_loss
from tinygrad_lc.models import LinearClassifier
from tinygrad_lc.optim import SGD
from tinygrad_lc.regularizers import l2

from .common import interleaved, main, table
from .engine import _STEP, chain_numpy
from .engine import C as CHAIN_C
from .engine import D as CHAIN_D
from .losses import _problem as problem  # CIFAR-10-shaped X, labels, small random W
from .losses import softmax_numpy, svm_numpy

D, C, REG = 3073, 10, 2.5e4
LOSSES = {"svm": (svm_loss, svm_numpy), "softmax": (softmax_loss, softmax_numpy)}


def loss_cases(name: str, n: int, dtype) -> dict:
    """The sides of one cell: hand-written, compiled, eager, the two-matmul floor."""
    loss_fn, numpy_fn = LOSSES[name]
    X, y, W = problem(n, dtype)
    reg = float(REG)
    compiled = tg.compile(lambda W, X, y, reg: loss_fn(Tensor(X) @ W, y) + reg * l2(W))
    Wt = Tensor(W, requires_grad=True)

    def run_compiled():
        Wt.grad = None
        loss = compiled(Wt, X, y, reg)
        loss.backward()
        return loss.item(), Wt.grad

    def run_eager():
        Wt.grad = None
        loss = loss_fn(Tensor(X) @ Wt, y) + reg * l2(Wt)
        loss.backward()
        return loss.item(), Wt.grad

    G = np.ones((n, C), dtype)
    lc, gc_ = run_compiled()
    le, ge = run_eager()
    ln, gn = numpy_fn(W, X, y, dtype(REG))
    assert lc == le and np.array_equal(gc_, ge), "compiled differs from eager"
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert abs(lc - ln) <= tol * abs(ln) and np.abs(gc_ - gn).max() <= tol * np.abs(gn).max()
    return {"numpy": lambda: numpy_fn(W, X, y, dtype(REG)), "compiled": run_compiled,
            "eager": run_eager, "floor": lambda: (X @ W, (G.T @ X).T)}, compiled


def loss_table(rounds: int) -> str:
    rows = []
    for n in (200, 1000):
        for dtype in (np.float64, np.float32):
            for name in LOSSES:
                cases, _ = loss_cases(name, n, dtype)
                r = rounds if n == 200 else max(rounds // 3, 3)
                t = interleaved(cases, "numpy", r)  # each call after the collector: cold
                w = interleaved(cases, "numpy", r, warm=True)  # a loop's steady state
                target = 0.95 if n == 200 else 1.00
                met = [x["compiled"].ratio <= target and x["compiled"].cpu_ratio <= target
                       for x in (t, w)]
                rows.append((name, np.dtype(dtype).name, n, t["numpy"].seconds * 1e3,
                             t["compiled"].ratio, t["compiled"].cpu_ratio, t["eager"].ratio,
                             t["floor"].ratio, w["numpy"].seconds * 1e3, w["compiled"].ratio,
                             w["compiled"].cpu_ratio, w["eager"].ratio, w["floor"].ratio,
                             f"<= {target:.2f}", "/".join("yes" if m else "NO" for m in met)))
    return table("Loss forward + backward, X @ W (W 3073 x 10) + reg * l2(W), one BLAS thread: "
                 "ratio to hand-written NumPy (median of per-round ratios; wall / CPU time). "
                 "Cold: every timed call right after the cycle collector; warm: after one "
                 "untimed call of the same side (a training loop's steady state)",
                 ("loss", "dtype", "N", "NumPy ms", "compiled", "(CPU)", "eager",
                  "2 matmuls", "warm: NumPy ms", "compiled", "(CPU)", "eager", "2 matmuls",
                  "target", "met cold/warm"), rows)


# ---------------------------------------------------------------------- training
STEPS, BATCH, N_TRAIN, LR = 300, 200, 10_000, 1e-7


def training_table(rounds: int) -> str:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(N_TRAIN, D)).astype(np.float64) - 127.5
    X[:, -1] = 1.0  # the bias trick's column of ones
    y = rng.integers(0, C, size=N_TRAIN)
    model0 = LinearClassifier(D, C, loss="svm", reg=REG, bias=False, seed=0)
    W0, state = model0.W.data.copy(), model0.rng.bit_generator.state
    finals = {}

    def fit(compile_: bool):
        m = LinearClassifier(D, C, loss="svm", reg=REG, bias=False, seed=0)
        m.fit(X, y, lr=LR, num_iters=STEPS, batch_size=BATCH, compile=compile_)
        finals[compile_] = m.W.data

    def plain():
        r = np.random.default_rng()
        r.bit_generator.state = state
        W = W0.copy()
        for _ in range(STEPS):
            idx = r.integers(0, N_TRAIN, size=BATCH)
            _, dW = svm_numpy(W, X[idx], y[idx], REG)
            W -= LR * dW
        finals["numpy"] = W

    step_loss = tg.compile(lambda W, X, y: svm_loss(Tensor(X) @ W, y) + REG * l2(W))

    def loop():  # fit's loop without fit: no checks of X, no accuracy, no history
        r = np.random.default_rng()
        r.bit_generator.state = state
        W = Tensor(W0.copy(), requires_grad=True)
        opt = SGD([W], lr=LR)
        for _ in range(STEPS):
            idx = r.integers(0, N_TRAIN, size=BATCH)
            opt.zero_grad()
            step_loss(W, X[idx], y[idx]).backward(retain_grads=False)
            opt.step()
        finals["loop"] = W.data

    t = interleaved({"numpy": plain, "compiled": lambda: fit(True),
                     "eager": lambda: fit(False), "loop": loop}, "numpy", rounds)
    assert np.array_equal(finals[True], finals[False]), "compiled fit differs from eager fit"
    scale = np.abs(finals["numpy"]).max()
    for k in (True, "loop"):
        assert np.abs(finals[k] - finals["numpy"]).max() <= 1e-9 * scale, "runs diverged"
    gc.collect()
    check = min(_seconds(lambda: count_nonfinite(X)) for _ in range(3))
    met = t["compiled"].ratio <= 1.0 and t["compiled"].cpu_ratio <= 1.0
    rows = [("plain NumPy loop, hand-written gradient", t["numpy"].seconds, 1.0, 1.0, "", ""),
            ("LinearClassifier.fit (compiled, the default)", t["compiled"].seconds,
             t["compiled"].ratio, t["compiled"].cpu_ratio, "<= 1.00", "yes" if met else "NO"),
            ("LinearClassifier.fit(compile=False)", t["eager"].seconds, t["eager"].ratio,
             t["eager"].cpu_ratio, "", ""),
            ("tg.compile(loss) + SGD: fit's loop, without fit", t["loop"].seconds,
             t["loop"].ratio, t["loop"].cpu_ratio, "", "")]
    return table(f"Training: {STEPS} SGD steps, batch {BATCH}, X {N_TRAIN:,} x {D}, "
                 f"{rounds} interleaved rounds (wall / CPU time). fit checks all of X for "
                 f"NaN/inf once before training: {check * 1e3:.1f} ms here, "
                 f"{check / t['numpy'].seconds:.1%} of the NumPy loop",
                 ("implementation", "seconds", "ratio", "(CPU)", "target", "met"), rows)


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ---------------------------------------------------------------------- replay per primitive
def chain_table(rounds: int, length: int = 2000) -> str:
    c, d = Tensor(CHAIN_C), Tensor(CHAIN_D)

    def chain(x):
        h = x
        for i in range(length):
            h = _STEP[i % 6](h, c, d)
        return h.sum()

    compiled = tg.compile(chain)
    x = Tensor(np.ones(10), requires_grad=True)

    def replay():
        x.grad = None
        compiled(x).backward()

    program = compiled.trace(x)
    steps = len(program.steps)
    a, cc = np.ones(10), CHAIN_C
    mul = np.multiply

    def floor():  # NumPy's own dispatch: one tiny ufunc call per step, in a plain loop
        for _ in range(steps):
            mul(a, cc)

    def eager():
        h = Tensor(np.ones(10), requires_grad=True)
        chain(h).backward()

    t = interleaved({"floor": floor, "replay": replay, "numpy chain": lambda: chain_numpy(length),
                     "eager": eager}, "floor", rounds)
    w = interleaved({"floor": floor, "replay": replay, "numpy chain": lambda: chain_numpy(length)},
                    "floor", rounds, warm=True)
    calls = length + sum(1 for i in range(length) if i % 6 in (0, 2, 3, 5))  # NumPy's calls
    per = {k: v.seconds / steps * 1e9 for k, v in t.items()}
    met = [x["replay"].ratio <= 1.5 and x["replay"].cpu_ratio <= 1.5 for x in (t, w)]
    rows = []
    for label, x in (("cold", t), ("warm", w)):
        hand = x["numpy chain"]
        rows += [(f"{label}: NumPy dispatch floor (a ufunc call per step)",
                  x["floor"].seconds / steps * 1e9, 1.0, 1.0, "", ""),
                 (f"{label}: tg.compile replay (forward + backward)",
                  x["replay"].seconds / steps * 1e9, x["replay"].ratio, x["replay"].cpu_ratio,
                  "<= 1.5", "yes" if met[label == "warm"] else "NO"),
                 (f"{label}: plain NumPy chain, hand reverse ({calls} calls)",
                  hand.seconds / calls * 1e9, hand.ratio * steps / calls,
                  hand.cpu_ratio * steps / calls, "", "")]
    rows.append(("cold: tinygrad_lc eager, per program step", per["eager"], t["eager"].ratio,
                 t["eager"].cpu_ratio, "", ""))
    return table(f"Replay cost per primitive: the chain of {length:,} small ops on a (10,) tensor "
                 f"(benchmarks/engine.py) compiles to {steps} steps, forward and backward; "
                 "ns per step (wall), ratios wall / CPU. Cold: each timed call right after the "
                 "cycle collector and the other sides; warm: after one untimed call of its own",
                 ("implementation", "ns/step", "ratio", "(CPU)", "target", "met"), rows)


# ---------------------------------------------------------------------- memory
def _peak(fn) -> int:
    fn()
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory_table() -> str:
    rows = []
    for name in LOSSES:
        for n in (200, 1000):
            cases, compiled = loss_cases(name, n, np.float64)
            p_numpy, p_comp = _peak(cases["numpy"]), _peak(cases["compiled"])
            kept = next(iter(compiled._cache.values())).program.buffer_bytes
            ratio = (p_comp + kept) / p_numpy
            rows.append((name, n, p_numpy / 1e3, p_comp / 1e3, kept / 1e3, ratio, "<= 1.10",
                         "yes" if ratio <= 1.10 else "NO"))
    return table("Memory of one call, float64 (tracemalloc's peak; 'kept' is the program's "
                 "buffers, reused between calls, counted against the compiled side)",
                 ("loss", "N", "NumPy kB", "compiled kB", "kept kB", "ratio", "target", "met"),
                 rows)


def run(quick: bool = False) -> str:
    """Every table of this section; ``common.main`` pins BLAS to one thread around it."""
    rounds = 5 if quick else 40
    return "\n".join([loss_table(rounds), chain_table(3 if quick else 15),
                      training_table(1 if quick else 3), memory_table()])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    quick = ap.parse_args().quick
    sys.exit(main(lambda: run(quick)))
