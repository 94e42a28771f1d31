"""Timing helpers shared by the benchmarks: best-of-N wall time with BLAS pinned to one thread."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 7, number: int = 1) -> float:
    """Best wall time in seconds of ``number`` calls of ``fn`` over ``repeat`` tries."""
    fn()  # warm up caches and lazy imports
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def one_blas_thread():
    """Pin BLAS to one thread so the shared cores do not decide the result."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl is in the dev extra; without it, time as is
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain-text table, numbers formatted to 3 significant digits."""
    cells = [tuple(f"{c:.3g}" if isinstance(c, float) else str(c) for c in r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))
    return "\n".join([f"\n## {title}", line(header), line(tuple("-" * w for w in widths))]
                     + [line(r) for r in cells])
