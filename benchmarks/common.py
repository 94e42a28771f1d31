"""What every benchmark section shares: interleaved timing, BLAS pinned to one thread, tables.

Sides of a comparison are timed *interleaved*: each round runs every side once, in a freshly
shuffled order, and a ratio is the median over rounds of that round's time over the reference's.
Load from other processes on the shared cores then hits both sides of a round alike, instead of
whichever side happened to be timed while it lasted. Each round records wall time and this
process's CPU time (``time.process_time``); with BLAS on one thread the CPU time is the wall time
of a quiet machine, which other processes' load does not inflate.
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

    ``seconds`` is the median wall time per call; ``ratio`` the median over rounds of this
    side's wall time over the reference side's in the same round, ``ratio_lo``/``ratio_hi`` the
    25th and 75th percentiles of those per-round ratios (the spread within one run).
    ``cpu_seconds`` and ``cpu_ratio`` are the same medians of this process's CPU time;
    ``ratios`` and ``cpu_ratios`` hold the per-round ratios, in round order.
    """

    seconds: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    rounds: int
    cpu_seconds: float
    cpu_ratio: float
    ratios: tuple[float, ...]
    cpu_ratios: tuple[float, ...]


def interleaved(cases: dict[str, Callable[[], object]], ref: str, rounds: int,
                warmup: int = 1, seed: int = 0, number: int = 1,
                warm: bool = False) -> dict[str, Timing]:
    """Time ``cases`` side by side, round by round, against the case named ``ref``.

    Each case is called ``warmup`` times first (caches, lazy imports). Then each of ``rounds``
    rounds times every case once, in an order shuffled anew per round, as ``number``
    back-to-back calls (times are per call); before each timed block the cycle collector runs,
    so no block pays for garbage another one left. Wall and CPU time are both recorded.
    With ``warm=True`` each timed block follows one untimed call of the same case (after the
    collector): the steady state of a loop, with caches holding that case's own data, code
    and buffers rather than whatever the collector and the other cases left there.

    >>> t = interleaved({"a": lambda: sum(range(100)), "b": lambda: sum(range(100))}, "a", 5)
    >>> t["a"].ratio, t["a"].cpu_ratio, t["a"].rounds
    (1.0, 1.0, 5)
    """
    if ref not in cases:
        raise ValueError(f"interleaved: ref {ref!r} is not one of the cases {list(cases)}")
    if rounds < 1:
        raise ValueError(f"interleaved: rounds must be >= 1, got {rounds}")
    if number < 1:
        raise ValueError(f"interleaved: number must be >= 1, got {number}")
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    order = list(cases)
    walls: dict[str, list[float]] = {name: [] for name in order}
    cpus: dict[str, list[float]] = {name: [] for name in order}
    shuffle = random.Random(seed).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            fn = cases[name]
            gc.collect()
            if warm:
                fn()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(number):
                fn()
            cpus[name].append((time.process_time() - cpu) / number)
            walls[name].append((time.perf_counter() - wall) / number)
    out = {}
    for name in walls:
        ratios = _ratios(walls[name], walls[ref])
        cpu_ratios = _ratios(cpus[name], cpus[ref])
        lo, hi = np.percentile(ratios, [25, 75])
        out[name] = Timing(statistics.median(walls[name]), statistics.median(ratios), float(lo),
                           float(hi), rounds, statistics.median(cpus[name]),
                           statistics.median(cpu_ratios), ratios, cpu_ratios)
    return out


def _ratios(times: list[float], ref: list[float]) -> tuple[float, ...]:
    """Per-round ratios; a round whose reference took no measurable time counts as ratio 1
    when this side took none either (the process clock ticks coarser than the wall clock)."""
    return tuple(t / r if r > 0 else (1.0 if t == 0 else float("inf"))
                 for t, r in zip(times, ref))


def spread(t: Timing) -> str:
    """``ratio_lo-ratio_hi``, the interquartile range of the per-round ratios."""
    return f"{t.ratio_lo:.3g}-{t.ratio_hi:.3g}"


@contextlib.contextmanager
def one_blas_thread() -> Iterator[str]:
    """Pin BLAS to one thread so the shared cores do not decide the result; yields what it did."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # threadpoolctl is in the test group and the cluster extra
        yield "BLAS threads NOT pinned: threadpoolctl is missing (make setup installs it)"
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
