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
  turns the third start into a "failed" record (one retry, as locally). Before the client
  is made, ``probe_scheduler`` checks the address within one deadline (``CONNECT_TIMEOUT``):
  a TCP connection, then Dask's handshake and an ``identity`` call, so a port that accepts
  and never answers, or answers something else than Dask, is a named error, not a hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from tinygrad_lc.sweep.trial import Task, failed_result, init_worker, run_trial

__all__ = ["DaskCluster", "InProcess", "LocalProcesses", "WorkerDied", "check_address",
           "default_workers", "probe_scheduler"]

MAX_STARTS = 2  # a trial whose worker dies is run once more, then recorded as failed
# seconds for a Dask scheduler to accept the connection and answer the handshake (both)
CONNECT_TIMEOUT = 5.0
_ADDRESS = re.compile(r"(?:(?P<scheme>tcp|tls|ws|wss)://)?"
                      r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})")


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
    inherited threads or locks) whose initializer makes it end with this process (also
    when this one is SIGKILLed), ignores Ctrl-C and pins BLAS to one thread. A process that
    dies breaks only its own pool: the trial it ran raises ``WorkerDied`` and the next trial
    gets a fresh process.
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
                max_workers=1, mp_context=self._context, initializer=init_worker,
                initargs=(os.getpid(),))  # the worker ends when this process ends
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


def check_address(where: str, address: Any) -> str:
    """``address`` if it is a Dask scheduler address, ``[SCHEME://]HOST:PORT``, else ValueError.

    Checked before Dask is imported or anything connects; SCHEME is ``tcp`` (the default),
    ``tls``, ``ws`` or ``wss``.

    >>> check_address("run_sweep", "tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> check_address("run_sweep", "garbage")
    Traceback (most recent call last):
    ...
    ValueError: run_sweep: scheduler must be a Dask scheduler address, tcp://HOST:PORT (e.g. \
tcp://10.0.0.5:8786), got 'garbage'
    """
    _host_port(where, address)
    return address


def _host_port(where: str, address: Any) -> tuple[str, int]:
    """HOST and PORT of ``address``, or :func:`check_address`'s ValueError."""
    match = _ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"{where}: scheduler must be a Dask scheduler address, tcp://HOST:PORT "
                         f"(e.g. tcp://10.0.0.5:8786), got {address!r}")
    return match["host"].strip("[]"), int(match["port"])


async def _identity(distributed: Any, address: str, timeout: float) -> Any:
    """Dask's handshake with ``address``, then its ``identity`` (what kind of server it is)."""
    comm = await distributed.comm.connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def probe_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> dict[str, Any]:
    """The scheduler's ``identity`` at ``address``, asked within ``timeout`` seconds in all.

    First a TCP connection (a closed port fails at once), then Dask's handshake and one
    ``identity`` call in a private event loop of a short-lived thread (so this works inside
    a running loop, as in Jupyter), bounded by ``asyncio.wait_for``: a server that accepts
    and never answers is a ``ConnectionError`` at the deadline; one that answers something
    other than Dask (its bytes read as a message of 3 EiB, say) is a ``ConnectionError``
    saying so, never Dask's own traceback.

    Raises
    ------
    ConnectionError
        Nothing listens, nothing answered in time, or what answered is no Dask scheduler.
    """
    distributed = import_distributed()
    deadline = time.monotonic() + timeout
    host, port = _host_port("run_sweep", address)
    start = (f"Start one with `dask scheduler` and workers with `dask worker {address}`, "
             "or fix the address.")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except (TimeoutError, OSError) as exc:
        raise ConnectionError(f"run_sweep: no Dask scheduler answered at {address} within "
                              f"{timeout:g} s ({type(exc).__name__}: {exc}). {start}") from None
    box: dict[str, Any] = {}

    def ask() -> None:
        left = max(deadline - time.monotonic(), 0.0)
        try:
            box["answer"] = asyncio.run(asyncio.wait_for(
                _identity(distributed, address, left), left))
        except BaseException as exc:  # noqa: BLE001 (handed to the calling thread)
            box["error"] = exc

    thread = threading.Thread(target=ask, name="tinygrad_lc-probe-scheduler", daemon=True)
    thread.start()
    thread.join()
    error, answer = box.get("error"), box.get("answer")
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        raise ConnectionError(
            f"run_sweep: {address} accepted the connection but no Dask scheduler answered "
            f"within {timeout:g} s (is it the scheduler's port, 8786 by default, and not "
            f"the dashboard's?). {start}") from None
    if error is not None or not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        what = (f"{type(error).__name__}: {str(error)[:200]}" if error is not None else
                f"it says it is a {answer.get('type')!r}" if isinstance(answer, dict) else
                f"it answered {type(answer).__name__}")
        raise ConnectionError(
            f"run_sweep: something answers at {address}, but not a Dask scheduler ({what}). "
            f"{start}") from None
    return answer


class DaskCluster:
    """Trials submitted to a running Dask scheduler (``dask scheduler``, ``dask worker``).

    Raises
    ------
    ImportError
        Dask distributed is not installed (``pip install 'tinygrad_lc[cluster]'``).
    ValueError
        ``address`` is not ``[SCHEME://]HOST:PORT``.
    ConnectionError
        No scheduler answered at ``address`` within ``connect_timeout`` seconds (the
        connection and the handshake together; ``CONNECT_TIMEOUT`` by default), what
        answered is not a Dask scheduler, or it has no workers after ``wait_workers``
        seconds.
    """

    capacity = float("inf")  # the scheduler queues and places the trials

    def __init__(self, address: str, trial: Any = run_trial, wait_workers: float = 60.0,
                 connect_timeout: float | None = None):
        timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        distributed = import_distributed()
        self.trial, self.address = trial, address
        self.name = f"dask {address}"
        self._ledger = f"tinygrad_lc.sweep.selection/{uuid.uuid4().hex}"
        probe_scheduler(address, timeout)  # bounded: nothing below starts before it answered
        try:
            # the scheduler has just answered; Client's own connect is bounded by timeout
            self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 (any failure of Dask's is this one error)
            raise ConnectionError(
                f"run_sweep: the Dask scheduler at {address} answered, then the client could "
                f"not connect within {timeout:g} s ({type(exc).__name__}: {exc})") from None
        try:
            self.client.wait_for_workers(1, timeout=wait_workers)
        except Exception:  # noqa: BLE001 (a timeout, a lost scheduler: the same advice)
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
