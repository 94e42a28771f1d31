"""Where trials run: this process, local worker processes, or a Dask distributed cluster.

The three executors have one small interface in the style of ``concurrent.futures`` (Dask's
``Client`` has the same shape): ``submit(task, attempt)`` returns a future, ``wait(futures,
timeout)`` returns the finished ones, ``result(future)`` returns the trial's record or
raises ``WorkerDied``, ``stop()`` ends the running trials and ``close()`` lets go. The
sweep's loop (``sweep.run_sweep``) is written once against it; the trial function
(``sweep_trial.run_trial``) is the same everywhere.

- ``InProcess``: runs each trial in ``submit`` (for tests, debugging and tiny sweeps).
- ``LocalProcesses``: K worker processes, each a one-process ``ProcessPoolExecutor`` (spawn)
  given one trial at a time, so when a process dies the trial it was running is known.
- ``DaskCluster``: ``distributed.Client(address).submit``; the scheduler places the trials
  and re-runs those of a lost worker; a per-trial count of starts, kept on the scheduler,
  turns the third start into a "failed" record (one retry, as locally).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import uuid
from collections.abc import Iterable
from typing import Any

from tinygrad_lc.sweep.trial import Task, failed_result, init_worker, run_trial

__all__ = ["DaskCluster", "InProcess", "LocalProcesses", "WorkerDied", "default_workers"]

MAX_STARTS = 2  # a trial whose worker dies is run once more, then recorded as failed
CONNECT_TIMEOUT = 5.0  # seconds to wait for a Dask scheduler to answer


class WorkerDied(RuntimeError):
    """The process running a trial ended before the trial did (killed, crashed, lost)."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class InProcess:
    """Run each trial right here, one at a time, in ``submit``."""

    name = "in-process"
    capacity = 1
    workers = 1

    def __init__(self, trial: Any = run_trial):
        self.trial = trial

    def submit(self, task: Task, attempt: int = 0) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_result(self.trial(task))
        return future

    def wait(self, futures: Iterable[cf.Future], timeout: float) -> set[cf.Future]:
        return {f for f in futures if f.done()}

    def result(self, future: cf.Future) -> dict[str, Any]:
        return future.result()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class LocalProcesses:
    """``workers`` worker processes on this machine, one trial each at a time.

    Each process is a ``ProcessPoolExecutor(max_workers=1)`` started with ``spawn`` (no
    inherited threads or locks) whose initializer ignores Ctrl-C and pins BLAS to one
    thread. A process that dies breaks only its own pool: the trial it ran raises
    ``WorkerDied`` and the next trial gets a fresh process.
    """

    name = "local processes"

    def __init__(self, workers: int, trial: Any = run_trial):
        self.workers = self.capacity = int(workers)
        self.trial = trial
        self._context = multiprocessing.get_context("spawn")
        self._pools: list[cf.ProcessPoolExecutor | None] = [None] * self.workers
        self._slot_of: dict[cf.Future, int] = {}

    def submit(self, task: Task, attempt: int = 0) -> cf.Future:
        busy = set(self._slot_of.values())
        slot = next(i for i in range(self.workers) if i not in busy)
        pool = self._pools[slot]
        if pool is None:
            pool = self._pools[slot] = cf.ProcessPoolExecutor(
                max_workers=1, mp_context=self._context, initializer=init_worker)
        future = pool.submit(self.trial, task)
        self._slot_of[future] = slot
        return future

    def wait(self, futures: Iterable[cf.Future], timeout: float) -> set[cf.Future]:
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def result(self, future: cf.Future) -> dict[str, Any]:
        slot = self._slot_of.pop(future)
        try:
            return future.result()
        except cf.process.BrokenProcessPool as exc:
            pool, self._pools[slot] = self._pools[slot], None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerDied(f"its worker process died while running it ({exc})") from None

    def _processes(self) -> list[Any]:
        # ProcessPoolExecutor has no public way to end a running task before Python 3.14
        return [p for pool in self._pools if pool is not None
                for p in list(getattr(pool, "_processes", {}).values())]

    def stop(self) -> None:
        """End the running trials now: terminate the worker processes."""
        for process in self._processes():
            process.terminate()
        self.close()

    def close(self) -> None:
        for pool in self._pools:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._pools = [None] * self.workers
        self._slot_of.clear()


def _on_dask_worker(trial: Any, task: Task, ledger: str) -> dict[str, Any]:
    """Run ``trial(task)`` on a Dask worker, counting its starts on the scheduler.

    The scheduler re-runs a task whose worker was lost; the count lets the third start
    record the trial as failed instead of killing yet another worker.
    """
    # Dask is optional (the cluster extra) and slow to import: only on a worker
    from distributed import get_client

    client = get_client()
    key = [ledger, str(task.index)]
    starts = int(client.get_metadata(key, 0)) + 1  # pyright: ignore[reportArgumentType]  (sync client)
    client.set_metadata(key, starts)
    if starts > MAX_STARTS:
        record = failed_result(task, f"its worker died {starts - 1} times while running it "
                                     "(lost Dask workers)")
        return {**record, "starts": starts - 1}
    return {**trial(task), "starts": starts}


def import_distributed() -> Any:
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        # Dask is optional (the cluster extra) and slow to import: only with --scheduler
        import distributed
    except ImportError as exc:
        raise ImportError("run_sweep(scheduler=...) runs trials on a Dask cluster and needs "
                          "Dask distributed, which is not installed: "
                          "pip install 'tinygrad_lc[cluster]'") from exc
    return distributed


class DaskCluster:
    """Trials submitted to a running Dask scheduler (``dask scheduler``, ``dask worker``).

    Raises
    ------
    ImportError
        Dask distributed is not installed (``pip install 'tinygrad_lc[cluster]'``).
    ConnectionError
        No scheduler answered at ``address`` within ``CONNECT_TIMEOUT`` seconds, or it has
        no workers after ``wait_workers`` seconds.
    """

    capacity = float("inf")  # the scheduler queues and places the trials

    def __init__(self, address: str, trial: Any = run_trial, wait_workers: float = 60.0):
        distributed = import_distributed()
        self.trial, self.address = trial, address
        self.name = f"dask {address}"
        self._ledger = f"tinygrad_lc.sweep.selection/{uuid.uuid4().hex}"
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT,
                                             set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"run_sweep: no Dask scheduler answered at {address} within "
                f"{CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc}). Start one with "
                f"`dask scheduler` and workers with `dask worker {address}`, or fix the "
                "address.") from None
        try:
            self.client.wait_for_workers(1, timeout=wait_workers)
        except (TimeoutError, OSError):
            self.client.close()
            raise ConnectionError(
                f"run_sweep: the Dask scheduler at {address} has no workers after "
                f"{wait_workers:g} s; start some with `dask worker {address} --nthreads 1`"
            ) from None
        self._submitted: set[Any] = set()
        info = self.client.scheduler_info()
        self.workers = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())

    def submit(self, task: Task, attempt: int = 0) -> Any:
        key = f"tinygrad_lc-trial-{self._ledger[-12:]}-{task.index}-{attempt}"
        future = self.client.submit(_on_dask_worker, self.trial, task, self._ledger,
                                    key=key, pure=False)
        self._submitted.add(future)
        return future

    def wait(self, futures: Iterable[Any], timeout: float) -> set[Any]:
        # Dask is optional (the cluster extra) and slow to import: only with --scheduler
        import distributed

        futures = list(futures)
        try:
            with self.client.as_current():  # wait() looks for the current client
                done, _ = distributed.wait(  # pyright: ignore[reportGeneralTypeIssues]  (sync)
                    futures, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    def result(self, future: Any) -> dict[str, Any]:
        # Dask is optional (the cluster extra) and slow to import: only with --scheduler
        import distributed

        self._submitted.discard(future)
        try:
            return future.result()
        except distributed.KilledWorker as exc:
            raise WorkerDied(f"the Dask workers running it died ({exc})") from None

    def stop(self) -> None:
        """Cancel the trials still queued or running on the cluster."""
        if self._submitted:
            self.client.cancel(list(self._submitted), force=True)
        self.close()

    def close(self) -> None:
        self.client.close()
