"""Tests for `tinygrad-lc sweep`: outputs, bad input (exit 2, nothing lost), Ctrl-C (exit
130 and the resume command) and resuming after the sweep process is SIGKILLed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinygrad_lc import cli

pytest.importorskip("matplotlib")  # sweep.png

ROOT = Path(__file__).resolve().parents[2]
SWEEP_KEYS = {"best_config", "best_val_accuracy", "test_accuracy", "trials", "seconds",
              "workers", "executor"}


@pytest.fixture(autouse=True)
def data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr("tinygrad_lc.sweep.trial._loaded", {})


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        rc = cli.main(["sweep", *argv])
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sweep_writes_its_outputs_and_tests_the_best_once(tmp_path, capsys):
    out = tmp_path / "s"
    rc, stdout, err = run(capsys, "--dataset", "blobs", "--lr", "1e-3:1", "--reg", "1e-5:1e-2",
                          "--iters", "40", "--trials", "4", "--refine", "1", "--workers", "0",
                          "--out", str(out), "--quiet")
    assert rc == 0, err
    summary = json.loads((out / "sweep.json").read_text())
    assert SWEEP_KEYS <= set(summary)
    trials = lines(out / "trials.jsonl")
    assert len(trials) == len(summary["trials"]) == 8
    best = max((t for t in trials if t["status"] == "ok"),
               key=lambda t: (t["val_accuracy"], -t["trial"]))
    assert summary["best_val_accuracy"] == best["val_accuracy"]
    assert summary["best_config"]["lr"] == best["config"]["lr"]
    assert summary["best_config"]["seed"] == best["seed"]
    assert summary["best_config"]["iters"] == 40 and summary["executor"] == "in-process"
    assert 0 <= summary["test_accuracy"] <= 1
    metrics = json.loads((out / "best" / "metrics.json").read_text())
    assert metrics["test_accuracy"] == summary["test_accuracy"]
    assert metrics["val_accuracy"] == best["val_accuracy"]  # retrained bit for bit
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"loss.png", "weights.png"} <= {p.name for p in (out / "best").iterdir()}
    # the table: sorted by validation accuracy, then the test accuracy of the best
    table = stdout[stdout.index("trial "):].splitlines()
    vals = [float(row.split()[-3]) for row in table[2:10]]
    assert vals == sorted(vals, reverse=True)
    assert f"test {summary['test_accuracy']:.4f}" in stdout


def test_fixed_train_options_pass_through_to_every_trial(tmp_path, capsys):
    out = tmp_path / "s"
    rc, _, err = run(capsys, "--dataset", "blobs", "--loss", "softmax", "--momentum", "0.5",
                     "--batch-size", "30", "--regularizer", "l1", "--iters", "20", "--trials",
                     "2", "--refine", "0", "--workers", "0", "--out", str(out), "--quiet")
    assert rc == 0, err
    for trial in lines(out / "trials.jsonl"):
        assert {k: trial["config"][k] for k in ("loss", "momentum", "batch_size",
                                                "regularizer", "iters")} == {
            "loss": "softmax", "momentum": 0.5, "batch_size": 30, "regularizer": "l1",
            "iters": 20}
    best = json.loads((out / "sweep.json").read_text())["best_config"]
    assert best["loss"] == "softmax" and best["regularizer"] == "l1"


@pytest.mark.parametrize("argv, message", [
    (["--lr", "1e-2:1e-4"], "argument --lr: .*reversed"),
    (["--lr", "0:1e-2"], "argument --lr: .*0 < low"),
    (["--reg=-1:1"], "argument --reg: .*(0 < low|>= 0)"),
    (["--lr", "fast"], "argument --lr"),
    (["--trials", "0"], "argument --trials: must be an integer >= 1"),
    (["--learning-rate", "1e-3:1e-1"], "unrecognized arguments: --learning-rate"),
    (["--loss", "hinge"], "argument --loss: invalid choice 'hinge'"),
    (["--loss", "svm:softmax"], "argument --loss: takes names"),
    (["--trials", "3", "--grid", "2"], "not allowed with argument"),
    (["--checkpoint", "x.npz"], "--checkpoint is a train option that a sweep does not use"),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers is for local"),
])
def test_bad_input_is_a_usage_error(tmp_path, capsys, argv, message):
    out = tmp_path / "s"
    rc, _, err = run(capsys, "--dataset", "blobs", "--out", str(out), *argv)
    assert rc == 2
    assert "error:" in err and __import__("re").search(message, err), err
    assert "Traceback" not in err
    assert not (out / "trials.jsonl").exists()


def _blobs(out: Path, *extra: str) -> list[str]:
    return ["--dataset", "blobs", "--lr", "1e-2:1", "--iters", "10", "--trials", "2",
            "--refine", "0", "--workers", "0", "--out", str(out), "--quiet", *extra]


def test_an_existing_or_unreadable_trials_file_is_kept(tmp_path, capsys):
    out = tmp_path / "s"
    assert run(capsys, *_blobs(out))[0] == 0
    before = (out / "trials.jsonl").read_bytes()
    rc, _, err = run(capsys, *_blobs(out))  # again, without --resume
    assert rc == 2 and "already holds trials" in err and "--resume" in err
    assert (out / "trials.jsonl").read_bytes() == before
    rc, _, err = run(capsys, *_blobs(out, "--lr", "1e-1:1"), "--resume")  # another sweep
    assert rc == 2 and "written by another sweep" in err
    assert (out / "trials.jsonl").read_bytes() == before
    damaged = before.replace(b'{"trial": 1', b'{"trial": one', 1)
    (out / "trials.jsonl").write_bytes(damaged)
    rc, _, err = run(capsys, *_blobs(out), "--resume")
    assert rc == 2 and "trials.jsonl, line 2 is not a trial record" in err
    assert (out / "trials.jsonl").read_bytes() == damaged


def test_resume_of_a_finished_sweep_runs_nothing(tmp_path, capsys):
    out = tmp_path / "s"
    assert run(capsys, *_blobs(out))[0] == 0
    before = (out / "trials.jsonl").read_bytes()
    rc, stdout, err = run(capsys, *_blobs(out), "--resume")
    assert rc == 0, err
    assert (out / "trials.jsonl").read_bytes() == before


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, _, err = run(capsys, "--dataset", "blobs", "--out", str(tmp_path / "s"), "--scheduler",
                     f"tcp://127.0.0.1:{port}", "--trials", "2", "--quiet")
    assert rc == 1
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port}" in err
    assert "dask scheduler" in err and "Traceback" not in err


# ---------------------------------------------------------------------- killed and stopped
def _start(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "tinygrad_lc", "sweep", "--dataset", "digits", "--lr",
            "1e-3:1e-1", "--iters", "600", "--trials", "8", "--refine", "0", "--workers", "2",
            "--out", str(out), "--quiet", *extra]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _wait_for_lines(path: Path, n: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        if process.poll() is not None:
            pytest.fail(f"the sweep ended early: {process.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"fewer than {n} trials in {path} after {timeout} s")


def _end_group(process: subprocess.Popen) -> None:
    """SIGKILL what is left of the sweep's process group (its orphaned workers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_resume_after_sigkill_redoes_only_the_unfinished_trials(tmp_path):
    out = tmp_path / "s"
    process = _start(out)
    try:
        _wait_for_lines(out / "trials.jsonl", 2, process)
        process.send_signal(signal.SIGKILL)  # the sweep process only, mid-run
        process.wait(timeout=30)
    finally:
        _end_group(process)
    kept = (out / "trials.jsonl").read_bytes()
    done_before = {t["trial"] for t in lines(out / "trials.jsonl")}
    assert 2 <= len(done_before) < 8
    resumed = _start(out, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    after = (out / "trials.jsonl").read_bytes()
    assert after.startswith(kept)  # the finished trials were kept, byte for byte
    new = [json.loads(line) for line in after[len(kept):].decode().splitlines()]
    assert sorted(t["trial"] for t in new) == sorted(set(range(8)) - done_before)
    assert sorted(t["trial"] for t in lines(out / "trials.jsonl")) == list(range(8))


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_sweep_keeps_its_trials_and_prints_the_resume_command(tmp_path, signum, code):
    out = tmp_path / "s"
    process = _start(out)
    try:
        _wait_for_lines(out / "trials.jsonl", 1, process)
        if signum == signal.SIGINT:  # as the terminal sends Ctrl-C: to every process
            os.killpg(process.pid, signum)
        else:  # as `kill` does: to the sweep process only
            process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        _end_group(process)
    assert process.returncode == code, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    command = stderr.strip().splitlines()[-1].strip()
    assert command.startswith("tinygrad-lc sweep --dataset digits") and "--resume" in command
    kept = lines(out / "trials.jsonl")  # every line whole
    assert 1 <= len(kept) < 8
    if signum != signal.SIGINT:
        return
    argv = command.split()[2:]  # the printed command continues the sweep
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tinygrad_lc", "sweep", *argv], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(t["trial"] for t in lines(out / "trials.jsonl")) == list(range(8))
