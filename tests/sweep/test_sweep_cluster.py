"""A real Dask cluster on 127.0.0.1: a scheduler and two workers as separate processes.

The trials run through ``--scheduler``; one worker is SIGKILLed mid-sweep, and every trial
must still be in trials.jsonl exactly once, with the numbers a local run gives.
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

ROOT = Path(__file__).resolve().parents[2]
SAME = ("trial", "seed", "config", "status", "train_accuracy", "val_accuracy", "final_loss",
        "steps", "weights_sha256")
SPACE = {"lr": LogUniform(1e-3, 1e-1), "reg": LogUniform(1e-4, 1e-1), "iters": 600}


def same(records):
    return sorted(({k: r[k] for k in SAME} for r in records), key=lambda r: r["trial"])


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TINYGRAD_LC_DATA": str(cache)}


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


def test_cli_sweep_on_the_cluster_survives_a_killed_worker(cluster, tmp_path, monkeypatch):
    address, workers = cluster
    out = tmp_path / "s"
    argv = [sys.executable, "-m", "tinygrad_lc", "sweep", "--dataset", "digits", "--lr",
            "1e-3:1e-1", "--reg", "1e-4:1e-1", "--iters", "800", "--trials", "6", "--refine",
            "0", "--seed", "2", "--scheduler", address, "--out", str(out), "--quiet"]
    sweep = subprocess.Popen(argv, env=_env(tmp_path / "client-cache"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    path = out / "trials.jsonl"
    _wait(lambda: path.exists() and path.read_text().count("\n") >= 2, "two trials",
          [sweep, *workers], timeout=120)
    workers[0].send_signal(signal.SIGKILL)  # mid-sweep: it has more trials to run
    stdout, stderr = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, stderr
    trials = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(t["trial"] for t in trials) == list(range(6))  # each exactly once
    assert all(t["status"] == "ok" for t in trials)
    # the killed worker was running a trial: the scheduler ran it again on the other one
    assert [t["attempts"] for t in trials].count(2) == 1, trials
    assert not any("starts" in t for t in trials)
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["executor"] == f"dask {address}" and summary["workers"] == 2
    # the numbers of a local run of the same sweep
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "local-cache"))
    configs = [t["config"] for t in sorted(trials, key=lambda t: t["trial"])]
    local = run_sweep(configs, "digits", workers=0, seed=2)
    assert same(trials) == same(local.trials)


def test_unreachable_scheduler_fails_within_ten_seconds():
    import distributed  # noqa: F401 - imported before the clock starts

    with socket.socket() as s:  # a free port: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(run_sweep, [{"iters": 5}], "blobs",
                           scheduler=f"tcp://127.0.0.1:{port}")
        with pytest.raises(ConnectionError, match="no Dask scheduler answered"):
            call.result(timeout=10)  # the contract: a clear error within 10 s
