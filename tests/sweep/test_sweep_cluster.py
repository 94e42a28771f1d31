"""A real Dask cluster on 127.0.0.1: a scheduler and two workers as separate processes.

The trials run through ``scheduler=``; one worker is SIGKILLed while it runs a trial (the
trial waits for a file, so the kill lands mid-trial by construction, not by timing), and
every trial must still be in trials.jsonl exactly once, with the numbers a local run gives.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from tinygrad_lc.sweep import LogUniform, run_sweep, sample  # noqa: E402
from tinygrad_lc.sweep import runner as sweep_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SAME = ("trial", "seed", "config", "status", "train_accuracy", "val_accuracy", "final_loss",
        "steps", "weights_sha256")
SPACE = {"lr": LogUniform(1e-3, 1e-1), "reg": LogUniform(1e-4, 1e-1), "iters": 600}


def same(records):
    return sorted(({k: r[k] for k in SAME} for r in records), key=lambda r: r["trial"])


def _env(cache: Path) -> dict[str, str]:
    """The package and tests/ (the trial functions of sweep_helpers) on the path; the data
    cache and the marks folder of ``sweep_helpers`` under the test's folder."""
    marks = cache.parent / "marks"
    marks.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "TINYGRAD_LC_DATA": str(cache), "TINYGRAD_LC_TEST_MARKS": str(marks)}


def _wait(predicate, what: str, processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in processes:
            if p.poll() is not None:
                said = p.stderr.read() if p.stderr is not None else ""  # what it said, if piped
                pytest.fail(f"{what}: a cluster process ended: {p.args} -> {p.returncode}"
                            f"\n{said}")
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout} s")


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` (free port, no dashboard) and two `dask worker --nthreads 1
    --no-nanny` processes; yields (address, [worker processes])."""
    env = _env(tmp_path / "cache")
    file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = []

    def start(name: str, *argv: str) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen([*dask, *argv], env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        processes.append(p)
        return p

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
              "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file))
        _wait(file.exists, "the scheduler's file", processes)
        address = json.loads(file.read_text())["address"]
        workers = [start(f"worker{i}", "worker", address, "--nthreads", "1", "--no-nanny",
                         "--no-dashboard", "--host", "127.0.0.1") for i in range(2)]
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
        for log in logs.iterdir():
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")  # shown when a test fails


def test_same_numbers_in_process_and_on_dask_workers(cluster, tmp_path, monkeypatch):
    address, _ = cluster
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "local-cache"))
    configs = sample(SPACE, 4, seed=3)
    remote = run_sweep(configs, "digits", scheduler=address, seed=1)
    local = run_sweep(configs, "digits", workers=0, seed=1)
    assert remote.executor == f"dask {address}" and remote.workers == 2
    assert same(remote.trials) == same(local.trials)
    assert all(t["status"] == "ok" for t in remote.trials)
    assert {t["worker"] for t in remote.trials}.isdisjoint({t["worker"] for t in local.trials})


def test_a_worker_killed_mid_trial_has_its_trial_run_again_on_the_other(cluster, tmp_path,
                                                                       monkeypatch):
    import sweep_helpers

    address, workers = cluster
    marks = tmp_path / "marks"  # the workers' TINYGRAD_LC_TEST_MARKS (see _env)
    started, release = marks / "started-1", marks / "release"
    configs = sample(SPACE, 4, seed=3)
    runner = sweep_run.Runner("digits", 2, None, address, tmp_path / "s", False, False, 4,
                              trial=sweep_helpers.hold_first_start)
    pool = ThreadPoolExecutor(1)
    try:
        sweep = pool.submit(runner.run, configs)
        # an event, not a clock: trial 1 is running (it wrote the file and waits for release)
        while not started.exists():
            if sweep.done():
                pytest.fail(f"the sweep ended before trial 1 started: {sweep.result()}")
            for p in workers:
                assert p.poll() is None, f"a worker ended: {p.args} -> {p.returncode}"
            time.sleep(0.05)
        pid = int(started.read_text())
        victim = next(p for p in workers if p.pid == pid)  # --no-nanny: trials run in it
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        records = sweep.result()  # the scheduler runs trial 1 again on the other worker
    finally:
        release.touch()  # frees a trial still held (only if the test failed before the kill)
        pool.shutdown(wait=True)
        runner.close()
    path = tmp_path / "s" / "trials.jsonl"
    trials = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(t["trial"] for t in trials) == list(range(4))  # each exactly once
    assert all(t["status"] == "ok" for t in trials)
    assert {t["trial"]: t["attempts"] for t in trials} == {0: 1, 1: 2, 2: 1, 3: 1}
    assert not any("starts" in t for t in trials)
    survivor = next(p for p in workers if p is not victim)
    assert next(t for t in trials if t["trial"] == 1)["worker"].endswith(f":{survivor.pid}")
    # the numbers of a local run of the same sweep
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "local-cache"))
    local = run_sweep(configs, "digits", workers=0, seed=2)
    assert same(trials) == same(records) == same(local.trials)


def test_unreachable_scheduler_is_refused_at_the_connection_not_at_a_deadline():
    with socket.socket() as s:  # a free port: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the refusal is the answer (no waiting on a timeout): the error says it was refused
    with pytest.raises(ConnectionError, match="no Dask scheduler answered .*"
                                              "ConnectionRefusedError"):
        run_sweep([{"iters": 5}], "blobs", scheduler=f"tcp://127.0.0.1:{port}")
