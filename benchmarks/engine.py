"""Engine overhead: a chain of small elementwise ops on a (10,) tensor, forward + backward.

Each step of the chain cycles through ``* c``, ``+ d``, ``exp``, ``log``, ``- d``, ``/ c``, so
the values stay O(1) however long the chain.
Plain NumPy does the same forward and the reverse by hand, saving what the reverse needs; HIPS
autograd and PyTorch (when installed) run the same chain; all are timed interleaved.
"""

from __future__ import annotations

import gc
import sys

import numpy as np

from tinygrad_lc import Tensor

from .common import interleaved, main, spread, table

C = np.linspace(0.5, 1.5, 10)
D = np.linspace(-0.1, 0.1, 10)


_STEP = [
    lambda h, c, d: h * c,
    lambda h, c, d: h + d,
    lambda h, c, d: h.exp(),
    lambda h, c, d: h.log(),
    lambda h, c, d: h - d,
    lambda h, c, d: h / c,
]


def chain_tinygrad(length: int, params: bool = False) -> np.ndarray:
    """The chain built and differentiated; with ``params`` c and d need gradients too."""
    x = Tensor(np.ones(10), requires_grad=True)
    c, d = Tensor(C, requires_grad=params), Tensor(D, requires_grad=params)
    h = x
    for i in range(length):
        h = _STEP[i % 6](h, c, d)
    h.backward(np.ones(10))
    return c.grad if params else x.grad


def chain_numpy(length: int) -> np.ndarray:
    h = np.ones(10)
    saved = []
    for i in range(length):
        k = i % 6
        if k == 0:
            h = h * C
        elif k == 1:
            h = h + D
        elif k == 2:
            h = np.exp(h)
            saved.append(h)  # exp's derivative is its output
        elif k == 3:
            saved.append(h)  # log's derivative needs its input
            h = np.log(h)
        elif k == 4:
            h = h - D
        else:
            h = h / C
    g = np.ones(10)
    for i in reversed(range(length)):
        k = i % 6
        if k == 0:
            g = g * C
        elif k == 2:
            g = g * saved.pop()
        elif k == 3:
            g = g / saved.pop()
        elif k == 5:
            g = g / C
    return g


def chain_params_numpy(length: int) -> np.ndarray:
    h = np.ones(10)
    saved = []
    for i in range(length):
        k = i % 6
        saved.append(h)  # every op's input: the parameter gradients need them
        if k == 0:
            h = h * C
        elif k == 1:
            h = h + D
        elif k == 2:
            h = np.exp(h)
        elif k == 3:
            h = np.log(h)
        elif k == 4:
            h = h - D
        else:
            h = h / C
    g, gc, gd = np.ones(10), np.zeros(10), np.zeros(10)
    for i in reversed(range(length)):
        k, x = i % 6, saved.pop()
        if k == 0:
            gc = gc + g * x
            g = g * C
        elif k == 1:
            gd = gd + g
        elif k == 2:
            g = g * np.exp(x)
        elif k == 3:
            g = g / x
        elif k == 4:
            gd = gd - g
        else:
            gc = gc - g * x / (C * C)
            g = g / C
    return gc


def chain_autograd(length: int):
    try:
        import autograd.numpy as anp
        from autograd import grad
    except ImportError:
        return None

    _STEP_NP = [lambda h: h * C, lambda h: h + D, anp.exp, anp.log, lambda h: h - D,
                lambda h: h / C]

    def f(x):
        h = x
        for i in range(length):
            h = _STEP_NP[i % 6](h)
        return anp.sum(h)

    return lambda: grad(f)(np.ones(10))


def chain_torch(length: int):
    try:
        import torch
    except ImportError:
        return None
    c, d = torch.tensor(C), torch.tensor(D)

    def run():
        x = torch.ones(10, dtype=torch.float64, requires_grad=True)
        h = x
        for i in range(length):
            h = _STEP[i % 6](h, c, d)
        h.sum().backward()
        return x.grad

    return run


def _no_gc(fn):
    """``fn`` with CPython's cycle collector paused while it runs."""
    def paused():
        gc.disable()
        try:
            return fn()
        finally:
            gc.enable()
    return paused


def _rows(timings: dict, labels: dict[str, str], ops: int) -> list[tuple]:
    return [(labels[k], t.seconds / ops * 1e6, t.ratio, spread(t)) for k, t in timings.items()]


HEADER = ("implementation", "us/op", "ratio vs NumPy", "ratio IQR")


def run(rounds: int = 41) -> str:
    n = 2000
    assert np.allclose(chain_tinygrad(n), chain_numpy(n))
    cases = {"numpy": lambda: chain_numpy(n), "ours": lambda: chain_tinygrad(n)}
    labels = {"numpy": "plain NumPy (forward + hand reverse)",
              "ours": "tinygrad_lc (build + backward)",
              "autograd": "HIPS autograd", "torch": "PyTorch eager"}
    for key, maker in (("autograd", chain_autograd), ("torch", chain_torch)):
        fn = maker(n)
        if fn is not None:
            cases[key] = fn
    out = table("Per-op overhead: chain of 2,000 elementwise ops on a (10,) tensor, constants "
                "c, d (target <= 3x)", HEADER,
                _rows(interleaved(cases, "numpy", rounds), labels, n))
    assert np.allclose(chain_tinygrad(n, params=True), chain_params_numpy(n))
    cases = {"numpy": lambda: chain_params_numpy(n), "ours": lambda: chain_tinygrad(n, True)}
    out += table("Per-op overhead: the same chain with c, d as parameters (their gradients too)",
                 HEADER, _rows(interleaved(cases, "numpy", rounds), labels, n))
    long_rows = []
    for n, long_rounds in ((10_000, 9), (100_000, 3)):
        ours = lambda n=n: chain_tinygrad(n)
        t = interleaved({"numpy": lambda n=n: chain_numpy(n), "ours": ours,
                         "ours, gc paused": _no_gc(ours)}, "numpy", long_rounds, warmup=0)
        long_rows.append((f"{n:,} ops", t["ours"].seconds, t["ours"].seconds / n * 1e6,
                          t["ours, gc paused"].seconds / n * 1e6, t["numpy"].seconds,
                          t["ours"].ratio))
    out += table("Long chains: time linear in length (no recursion); the graph holds ~7 Python "
                 "objects per op, which CPython's cycle collector rescans as the graph grows",
                 ("chain", "tinygrad_lc s", "us/op", "us/op, gc paused", "NumPy s", "ratio"),
                 long_rows)
    return out


if __name__ == "__main__":
    sys.exit(main(run))
