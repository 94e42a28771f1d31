"""Sweep scaling: the same 8 trials with 1 and with 2 local worker processes.

``python -m benchmarks.sweep [--dataset cifar10|digits] [--iters N]`` prints the wall time
of each run, the speedup, and the peak memory of the worker processes, summed over them
and sampled every 50 ms: PSS (proportional set size: a page shared by k processes counts
1/k in each, so the sum is the memory really used) and RSS (shared pages counted in every
process that touches them). The workers map one copy of the preprocessed training data from
the data cache, so 2 workers should need little more than 1 (PSS), while their RSS sum
doubles. CIFAR-10 is used when it is in the data cache (its 600 MB of training data make
the sharing visible), digits otherwise. Both runs must give the same trial records.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

SAME = ("trial", "config", "status", "train_accuracy", "val_accuracy", "final_loss",
        "weights_sha256")


class PeakMemory:
    """Poll the worker processes (children of this one) for their summed PSS and RSS."""

    def __init__(self, every: float = 0.05):
        import psutil

        self.me, self.every = psutil.Process(), every
        self.pss = self.rss = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _workers(self) -> list:
        out = []
        for child in self.me.children(recursive=True):
            try:
                cmd = " ".join(child.cmdline())
            except Exception:  # noqa: BLE001 - it ended meanwhile
                continue
            if "multiprocessing.spawn" in cmd and "resource_tracker" not in cmd:
                out.append(child)
        return out

    def _poll(self) -> None:
        while not self._stop.is_set():
            pss = rss = n = 0
            for p in self._workers():
                try:
                    info = p.memory_full_info()
                except Exception:  # noqa: BLE001 - it ended meanwhile
                    continue
                pss, rss, n = pss + getattr(info, "pss", info.rss), rss + info.rss, n + 1
            self.pss, self.rss = max(self.pss, pss), max(self.rss, rss)
            self.processes = max(self.processes, n)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _spin(n: int) -> float:
    start = time.perf_counter()
    sum(range(n))
    return time.perf_counter() - start


def parallel_capacity(n: int = 3 * 10**7) -> float:
    """How many cores two busy processes get right now: the wall time of one pure-Python
    loop over that of two run at once, times 2 (2.0 on an idle 2-core machine; less when
    other jobs share it). The sweep's speedup can be no better."""
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_spin, [1000, 1000]))  # start both processes first
        one = pool.submit(_spin, n).result()
        start = time.perf_counter()
        list(pool.map(_spin, [n, n]))
        two = time.perf_counter() - start
    return 2 * one / two


def measure(dataset: str, iters: int, workers_list: tuple[int, ...] = (1, 2)) -> list[dict]:
    from tinygrad_lc.sweep import default_space, run_sweep, sample
    from tinygrad_lc.sweep.trial import shared_dataset

    configs = sample({**default_space(dataset, "svm"), "iters": iters}, 8, seed=0)
    shared_dataset(dataset, 0)  # build the cache first: neither run pays for it
    rows, reference = [], None
    for workers in workers_list:
        capacity = parallel_capacity()
        with tempfile.TemporaryDirectory() as out, PeakMemory() as memory:
            start = time.perf_counter()
            result = run_sweep(configs, dataset, workers=workers, out=Path(out))
            seconds = time.perf_counter() - start
        numbers = [{k: t[k] for k in SAME} for t in result.trials]
        if reference is None:
            reference = numbers
        elif numbers != reference:
            raise AssertionError("benchmarks.sweep: the runs gave different trial records")
        rows.append({"workers": workers, "seconds": seconds, "pss_mb": memory.pss / 2**20,
                     "rss_mb": memory.rss / 2**20, "processes": memory.processes,
                     "trial_seconds": sum(t["seconds"] for t in result.trials),
                     "capacity": (capacity + parallel_capacity()) / 2})
    return rows


def report(dataset: str, iters: int, rows: list[dict]) -> str:
    one = rows[0]
    lines = [f"\n## sweep: 8 trials on {dataset} ({iters} steps each), local worker processes",
             f"{'workers':>7}  {'wall s':>7}  {'speedup':>7}  {'peak PSS MB':>11}  "
             f"{'PSS / 1':>7}  {'peak RSS MB':>11}  {'sum of trial s':>14}  "
             f"{'free cores':>10}"]
    for r in rows:
        lines.append(f"{r['workers']:>7}  {r['seconds']:>7.1f}  "
                     f"{one['seconds'] / r['seconds']:>7.2f}  {r['pss_mb']:>11.0f}  "
                     f"{r['pss_mb'] / one['pss_mb']:>7.2f}  {r['rss_mb']:>11.0f}  "
                     f"{r['trial_seconds']:>14.1f}  {r['capacity']:>10.2f}")
    lines.append(f"(machine: {os.cpu_count()} cores, load average "
                 f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; memory is "
                 "summed over the worker processes, the sweep process not included; 'free "
                 "cores': the speedup of two busy processes over one, measured before and "
                 "after each run, the most the sweep could get)")
    return "\n".join(lines)


def run(dataset: str | None = None, iters: int | None = None) -> str:
    """The section's text, for ``python -m benchmarks``."""
    from tinygrad_lc.data import cifar10_fingerprint

    if dataset is None:
        dataset = "cifar10" if cifar10_fingerprint() is not None else "digits"
    if iters is None:
        iters = 1000 if dataset == "cifar10" else 3000
    return report(dataset, iters, measure(dataset, iters))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("cifar10", "digits"),
                        help="default: cifar10 when it is in the data cache, else digits")
    parser.add_argument("--iters", type=int, help="steps per trial (cifar10: 1000, digits: 3000)")
    args = parser.parse_args(argv)
    print(run(args.dataset, args.iters), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
