"""What every benchmark section shares: interleaved timing, BLAS pinned to one thread, tables.

Sides of a comparison are timed *interleaved*: each round runs every side once, in a freshly
shuffled order, and a ratio is the median over rounds of that round's time over the reference's.
Load from other processes on the shared cores then hits both sides of a round alike, instead of
whichever side happened to be timed while it lasted.
"""

from __future__ import annotations

import contextlib
import gc
import platform
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """One side of an interleaved comparison.

    ``seconds`` is the median time per call; ``ratio`` the median over rounds of this side's
    time over the reference side's time in the same round, ``ratio_lo``/``ratio_hi`` the 25th
    and 75th percentiles of those per-round ratios (the spread within one run).
    """

    seconds: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    rounds: int


def interleaved(cases: dict[str, Callable[[], object]], ref: str, rounds: int,
                warmup: int = 1, seed: int = 0) -> dict[str, Timing]:
    """Time ``cases`` side by side, round by round, against the case named ``ref``.

    Each case is called ``warmup`` times first (caches, lazy imports). Then each of ``rounds``
    rounds calls every case once, in an order shuffled anew per round; before each timed call
    the cycle collector runs, so no call pays for garbage another one left.

    >>> t = interleaved({"a": lambda: sum(range(100)), "b": lambda: sum(range(100))}, "a", 5)
    >>> t["a"].ratio, t["a"].rounds
    (1.0, 5)
    """
    if ref not in cases:
        raise ValueError(f"interleaved: ref {ref!r} is not one of the cases {list(cases)}")
    if rounds < 1:
        raise ValueError(f"interleaved: rounds must be >= 1, got {rounds}")
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    order = list(cases)
    times: dict[str, list[float]] = {name: [] for name in order}
    shuffle = random.Random(seed).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            gc.collect()
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)
    out = {}
    for name, ts in times.items():
        ratios = [t / r for t, r in zip(ts, times[ref])]
        lo, hi = np.percentile(ratios, [25, 75])
        out[name] = Timing(statistics.median(ts), statistics.median(ratios), float(lo),
                           float(hi), rounds)
    return out


def spread(t: Timing) -> str:
    """``ratio_lo-ratio_hi``, the interquartile range of the per-round ratios."""
    return f"{t.ratio_lo:.3g}-{t.ratio_hi:.3g}"


@contextlib.contextmanager
def one_blas_thread() -> Iterator[str]:
    """Pin BLAS to one thread so the shared cores do not decide the result; yields what it did."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # threadpoolctl is in the dev extra
        yield "BLAS threads NOT pinned: threadpoolctl is missing (pip install -e '.[dev]')"
        return
    with threadpool_limits(limits=1, user_api="blas"):
        blas = [f"{p['internal_api']} {p['num_threads']} thread(s)" for p in threadpool_info()
                if p["user_api"] == "blas"]
        yield "BLAS: " + (", ".join(blas) or "none found")


def main(*runs: Callable[[], str]) -> int:
    """Entry point of ``python -m benchmarks`` and of each section: print each run's tables."""
    with one_blas_thread() as blas:
        print(f"# tinygrad_lc benchmarks (Python {platform.python_version()}, NumPy "
              f"{np.__version__}, {blas}); sides timed interleaved, ratios are medians of "
              "per-round ratios")
        for run in runs:
            print(run(), flush=True)
    return 0


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain-text table, numbers formatted to 3 significant digits."""
    cells = [tuple(f"{c:.3g}" if isinstance(c, float) else str(c) for c in r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))
    return "\n".join([f"\n## {title}", line(header), line(tuple("-" * w for w in widths))]
                     + [line(r) for r in cells]) + "\n"
