"""What several test files share, written once: a graph's tensors without recursion, memory
peaks over windows of steps, an op whose VJPs are cut from the recorded graph, and latency
numbers reported to a JSON file (measured, never asserted)."""

from __future__ import annotations

import dataclasses
import gc
import json
import statistics
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from tinygrad_lc import Tensor
from tinygrad_lc.core.ops import Op
from tinygrad_lc.core.recording import TENSOR

# CPython keeps up to 2,000 freed tuples of each small size on free lists, and tracemalloc
# counts them: a few hundred KiB of growth that stops. A graph kept per step adds megabytes.
SLACK = 256 * 1024


def graph_of(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on (constants too), root included, without recursion."""
    seen, stack = {id(root): root}, [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return list(seen.values())


@contextmanager
def gc_off():
    """No cyclic garbage collection inside: what is freed is freed by reference counts."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def peaks(step: Callable[[], object], steps: int = 1000,
          windows: tuple = ((100, 200), (900, 1000))) -> list[int]:
    """tracemalloc's peak within each window of ``steps`` calls of ``step``."""
    found = []
    tracemalloc.start()
    try:
        for i in range(steps):
            for lo, hi in windows:
                if i == lo:
                    gc.collect()
                    tracemalloc.reset_peak()
                if i == hi - 1:
                    step()
                    found.append(tracemalloc.get_traced_memory()[1])
                    break
            else:
                step()
    finally:
        tracemalloc.stop()
    return found


def detached(op: Op) -> Op:
    """The same op whose VJPs read their saved values as constants on the recording backend:
    right first derivatives, zero second ones (what a VJP outside the graph looks like)."""

    def cut(vjp):
        def wrapped(B, g, out, *inputs, **kw):
            if B is TENSOR:
                out, inputs = Tensor(out.data), [Tensor(x.data) for x in inputs]
            return vjp(B, g, out, *inputs, **kw)

        return wrapped

    return dataclasses.replace(op, vjps=tuple(cut(v) for v in op.vjps))


def quantiles(ms: list[float]) -> dict:
    """p50, p95 and the maximum of some latencies in milliseconds, rounded to 0.01 ms."""
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2),
            "max_ms": round(max(ms), 2)}


def report(path: Path, name: str, numbers: dict) -> None:
    """Add ``numbers`` under ``name`` to the JSON file ``path`` (for people), and print them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    found = json.loads(path.read_text()) if path.exists() else {}
    found[name] = numbers
    path.write_text(json.dumps(found, indent=2) + "\n")
    print(f"\n{name}: {numbers}")
