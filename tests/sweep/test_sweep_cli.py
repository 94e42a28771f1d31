"""Tests for `tinygrad-lc sweep`: outputs, bad input (exit 2, nothing lost), Ctrl-C (exit
130 and the resume command) and resuming after the sweep process is SIGKILLed mid-run."""

from __future__ import annotations

import contextlib
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
    # what train refuses, a sweep refuses, before any trial runs
    (["--momentum=-0.5"], r"--momentum must be in \[0, 1\), got -0.5"),
    (["--momentum", "0.5:1.5"], r"--momentum must be in \[0, 1\), got 1.5"),
    (["--lr-decay", "0"], "--lr-decay must be > 0 and finite, got 0"),
    (["--batch-size", "100000"], "--batch-size 100000 is more than the 420 training examples"),
    (["--optimizer", "adam"], "--optimizer adam needs --model mlp"),
    (["--hidden", "10"], "--hidden needs --model mlp"),
    (["--model", "linear,mlp", "--optimizer", "adam"], "--optimizer adam needs --model mlp"),
    # sizes, before anything is allocated
    (["--trials", "100000000000"], "argument --trials: must be at most 100,000"),
    (["--grid", "100000", "--momentum", "0:0.9"],
     r"--grid 100,000 \(1,000,000,000,000,000 combinations\) in 2 round\(s\)"),
    (["--trials", "60000", "--refine", "1"], "--trials 60,000 in 2 round.* at most 100,000"),
    (["--workers", "99999999999999999999"], "argument --workers: must be at most 1,024"),
    (["--refine", "1000000000"], "argument --refine: must be at most 20"),
    (["--model", "mlp", "--hidden", "1000000000000"],
     "--hidden asks for a layer of 1,000,000,000,000 units; at most 10,000"),
])
def test_bad_input_is_a_usage_error(tmp_path, capsys, argv, message):
    out = tmp_path / "s"
    rc, _, err = run(capsys, "--dataset", "blobs", "--out", str(out), *argv)
    assert rc == 2
    assert "error:" in err and __import__("re").search(message, err), err
    assert "Traceback" not in err
    assert not out.exists()  # nothing was made


@pytest.mark.parametrize("option, limit", [("--trials", "100,000"), ("--grid", "100,000"),
                                           ("--refine", "20"), ("--workers", "1,024")])
def test_help_says_the_limits(capsys, option, limit):
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    start = text.index(f"{option} ", text.index("options:"))  # its entry, not the usage
    assert f"at most {limit}" in text[start:text.index(" --", start + 3)]


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


@pytest.mark.parametrize("edit, why", [
    (lambda t: {**t, "val_accuracy": "0.9"}, "'val_accuracy' must be null or a number"),
    (lambda t: {**t, "val_accuracy": float("nan")}, "NaN is not a number JSON has"),
    (lambda t: {**t, "status": 3}, "'status' must be one of"),
])
def test_an_edited_record_is_a_usage_error_naming_its_line(tmp_path, capsys, edit, why):
    out = tmp_path / "s"
    assert run(capsys, *_blobs(out))[0] == 0
    trials = lines(out / "trials.jsonl")
    trials[1] = edit(trials[1])
    edited = "".join(json.dumps(t) + "\n" for t in trials).encode()
    (out / "trials.jsonl").write_bytes(edited)
    rc, _, err = run(capsys, *_blobs(out), "--resume")
    assert rc == 2 and "Traceback" not in err, err
    assert "trials.jsonl, line 2 is not a trial record" in err and why in err, err
    assert "Delete that line" in err
    assert (out / "trials.jsonl").read_bytes() == edited


def test_an_edited_accuracy_never_makes_the_summaries_disagree(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["--dataset", "digits", "--lr", "1e-4:1e-2", "--iters", "30", "--trials", "3",
            "--refine", "0", "--workers", "0", "--out", str(out), "--quiet"]
    assert run(capsys, *argv)[0] == 0
    summary, metrics = (out / "sweep.json").read_bytes(), (out / "best/metrics.json").read_bytes()
    assert json.loads(summary)["best_val_accuracy"] == json.loads(metrics)["val_accuracy"]
    trials = lines(out / "trials.jsonl")
    worst = min(trials, key=lambda t: t["val_accuracy"])
    worst["val_accuracy"] = 0.999  # by hand: now the "best"
    (out / "trials.jsonl").write_text("".join(json.dumps(t) + "\n" for t in trials))
    rc, _, err = run(capsys, *argv, "--resume")
    assert rc == 2 and "Traceback" not in err, err
    assert f"trial {worst['trial']}'s record says validation accuracy 0.999" in err
    assert "the record was changed after the sweep wrote it" in err
    # both summaries as they were, and agreeing
    assert (out / "sweep.json").read_bytes() == summary
    assert (out / "best/metrics.json").read_bytes() == metrics


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


def _hold(process: subprocess.Popen) -> None:
    """Stop the sweep and its workers (SIGSTOP to the group): no trial can finish until
    ``_release``, so a signal sent meanwhile lands mid-sweep however fast the machine is."""
    os.killpg(process.pid, signal.SIGSTOP)


def _release(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGCONT)


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
        _hold(process)  # held mid-run: the kill cannot come after the last trial
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
        _hold(process)  # held mid-run: the signal cannot come after the last trial
        if signum == signal.SIGINT:  # as the terminal sends Ctrl-C: to every process
            os.killpg(process.pid, signum)
        else:  # as `kill` does: to the sweep process only
            process.send_signal(signum)
        _release(process)  # the pending signal is delivered as the group continues
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


def test_sigkill_of_the_sweep_ends_its_workers_and_the_resource_tracker(tmp_path):
    """SIGKILL leaves the sweep no chance to clean up: its worker processes must notice that
    their parent is gone and end, and the multiprocessing resource tracker with them, so no
    process of the sweep lives on, holding the caller's pipes open."""
    psutil = pytest.importorskip("psutil")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TINYGRAD_LC_DATA": str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "tinygrad_lc", "sweep", "--dataset", "blobs", "--iters",
            "10000000", "--trials", "4", "--refine", "0", "--workers", "2", "--out",
            str(tmp_path / "s"), "--quiet"]  # trials of hours: the workers are mid-trial
    sweep = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    parent = psutil.Process(sweep.pid)
    family: list = []
    try:
        deadline = time.monotonic() + 120  # a cap on waiting for the event, not a timing
        while True:  # until both workers run a trial: each has used a second of CPU
            family = parent.children(recursive=True)
            workers = [p for p in family if "spawn_main" in " ".join(p.cmdline())]
            if len(workers) == 2 and all(sum(w.cpu_times()[:2]) > 1.0 for w in workers):
                break
            assert sweep.poll() is None, sweep.communicate()
            assert time.monotonic() < deadline, f"the workers did not start: {family}"
            time.sleep(0.1)
        assert any("resource_tracker" in " ".join(p.cmdline()) for p in family), family
        sweep.send_signal(signal.SIGKILL)  # the sweep process only
        # the pipes reach EOF once every process holding them has ended (the event waited for)
        sweep.communicate(timeout=120)

        def alive() -> list:
            def running(p) -> bool:
                try:
                    return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                except psutil.NoSuchProcess:
                    return False
            group = [p for p in psutil.process_iter() if _in_group(p, sweep.pid)]
            return [p for p in [*family, *group] if running(p)]

        deadline = time.monotonic() + 120
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(), [(p.pid, p.cmdline()) for p in alive()]
    finally:
        for p in family:  # only the processes this test started, by pid
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        if sweep.poll() is None:
            sweep.kill()
        sweep.wait(timeout=30)


def _in_group(process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid
    except (ProcessLookupError, PermissionError):
        return False


def test_a_second_sweep_on_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    """Two real `tinygrad-lc sweep` processes on one --out: the second (a new sweep, or a
    resume) is refused at once with a usage error, and the first's log stays intact."""
    out = tmp_path / "s"
    path = out / "trials.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "tinygrad_lc", "sweep", "--dataset", "digits", "--lr",
            "1e-3:1e-1", "--iters", "2000", "--trials", "40", "--refine", "0", "--workers",
            "1", "--out", str(out), "--quiet"]
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        _wait_for_lines(path, 1, first)  # it holds the lock and has written a trial
        kept = path.read_bytes()
        for extra in ([], ["--resume"]):
            second = subprocess.run(argv + extra, env=env, capture_output=True, text=True,
                                    timeout=120)
            assert second.returncode == 2, second.stderr
            assert f"another sweep is writing to {out}" in second.stderr
            assert "Traceback" not in second.stderr
        assert first.poll() is None  # the refusals came while the first was running
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=60)
    finally:
        _end_group(first)
    assert first.returncode == 143, stderr
    after = path.read_bytes()
    assert after.startswith(kept)  # the first's trials, each once, every line whole
    trials = [t["trial"] for t in lines(path)]
    assert sorted(trials) == list(range(len(trials))) and len(trials) < 40
