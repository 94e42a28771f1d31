"""Tests for the `tinygrad-lc` command line: train, gradcheck, demo, and --help everywhere."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import pickle
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lc import cli
from tinygrad_lc.core.ops import OPS
from tinygrad_lc.util import checkpoint
from tinygrad_lc.util.checkpoint import load_checkpoint, save_checkpoint

pytest.importorskip("matplotlib")  # the pictures

ROOT = Path(__file__).resolve().parents[2]
METRIC_KEYS = {"train_accuracy", "val_accuracy", "test_accuracy", "final_loss", "seconds",
               "config"}
CONFIG_KEYS = {"dataset", "loss", "regularizer", "reg", "lr", "iters", "batch_size",
               "momentum", "seed", "checkpoint", "save_every", "resume", "out", "quiet"}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def train(capsys, out: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "train", "--out", str(out), *extra)


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# ----------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_help_of_every_subcommand(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tinygrad-lc {command}")
    assert "-h, --help" in out


def test_python_dash_m_is_the_same_program():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "tinygrad_lc", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tinygrad-lc")
    for command in cli.COMMANDS:
        assert command in done.stdout
    done = subprocess.run([sys.executable, "-m", "tinygrad_lc"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "required" in done.stderr


# ----------------------------------------------------------------------------- train


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_train_digits_with_defaults(capsys, tmp_path, loss):
    rc, out, _ = train(capsys, tmp_path, "--loss", loss)
    assert rc == 0
    m = metrics(tmp_path)
    assert METRIC_KEYS <= set(m) and CONFIG_KEYS <= set(m["config"])
    assert m["config"]["loss"] == loss and m["config"]["dataset"] == "digits"
    assert m["config"]["num_train"] == 1257 and m["config"]["bias_trick"] is True
    assert m["test_accuracy"] >= 0.93 and m["steps"] == m["config"]["iters"] == 300
    assert len(m["loss_history"]) == 300 and m["final_loss"] == m["loss_history"][-1]
    assert f"test {m['test_accuracy']:.4f}" in out and "metrics.json" in out
    w, h = png_size(tmp_path / "loss.png")
    assert w > 300 and h > 200
    w, h = png_size(tmp_path / "weights.png")
    assert w > 4 * h  # ten 8x8 templates side by side


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_train_blobs(capsys, tmp_path, loss):
    rc, _, _ = train(capsys, tmp_path, "--dataset", "blobs", "--loss", loss, "--quiet")
    assert rc == 0
    assert metrics(tmp_path)["test_accuracy"] >= 0.95
    png_size(tmp_path / "weights.png")  # the decision regions


def test_options_override_defaults(capsys, tmp_path):
    rc, _, _ = train(capsys, tmp_path, "--iters", "12", "--batch-size", "7", "--lr", "0.003",
                     "--reg", "0", "--regularizer", "elastic_net", "--beta", "0.5", "--quiet")
    assert rc == 0
    cfg = metrics(tmp_path)["config"]
    assert (cfg["iters"], cfg["batch_size"], cfg["lr"], cfg["reg"]) == (12, 7, 0.003, 0.0)
    assert (cfg["regularizer"], cfg["beta"]) == ("elastic_net", 0.5)


class Terminal(io.StringIO):
    """A stand-in for stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_quiet_prints_no_bar(capsys, tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    rc, out, _ = train(capsys, tmp_path / "a", "--dataset", "blobs", "--iters", "20")
    assert rc == 0 and re.search(r"20/20 .*acc=.*loss=", terminal.getvalue())  # the tqdm bar
    monkeypatch.setattr(sys, "stderr", terminal := Terminal())
    rc, out, _ = train(capsys, tmp_path / "b", "--dataset", "blobs", "--iters", "20",
                       "--quiet")
    assert rc == 0 and terminal.getvalue() == ""
    assert out.startswith("accuracy: train")


def test_no_bar_when_stderr_is_not_a_terminal(capsys, tmp_path):
    """In a CI log (stderr a file or a pipe: capsys here) every frame of a bar would be a line."""
    rc, out, err = train(capsys, tmp_path, "--dataset", "blobs", "--iters", "20")
    assert rc == 0 and err == "" and "accuracy: train" in out


def test_train_writes_to_its_own_folder_by_default(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for extra, folder in ([[], "digits-svm"], [["--loss", "softmax"], "digits-softmax"],
                          [["--dataset", "blobs"], "blobs-svm"],
                          [["--dataset", "blobs", "--model", "mlp"], "blobs-mlp-softmax"]):
        rc, out, _ = run(capsys, "train", "--iters", "3", "--quiet", *extra)
        assert rc == 0
        m = json.loads((tmp_path / "out" / "train" / folder / "metrics.json").read_text())
        assert m["config"]["out"] == f"out/train/{folder}"
        assert f"out/train/{folder}/metrics.json" in out
    # the demo's pictures (out/loss.png, out/weights_*.png) are never touched
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train"]


@pytest.mark.parametrize("argv, message", [
    (["--iters", "-1"], "--iters must be >= 0"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--momentum", "1"], r"--momentum must be in \[0, 1\)"),
    (["--save-every", "0"], "--save-every must be >= 1"),
    (["--resume"], "--resume needs --checkpoint"),
])
def test_bad_options(capsys, tmp_path, argv, message):
    rc, _, err = train(capsys, tmp_path, *argv)
    assert rc == 2 and re.search(message, err) and not (tmp_path / "metrics.json").exists()


def test_diverging_run_is_reported(capsys, tmp_path):
    rc, _, err = train(capsys, tmp_path, "--lr", "1e4", "--quiet")
    assert rc == 1 and "training diverged" in err
    assert err.startswith("tinygrad-lc train: error: fit: ")  # one line, no traceback


# ----------------------------------------------------------------------------- checkpoints

RESUME = ("--dataset", "digits", "--momentum", "0.9", "--lr", "0.003", "--save-every", "30",
          "--quiet")


def test_resume_is_bit_identical(capsys, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert train(capsys, tmp_path / "straight", *RESUME, "--iters", "200",
                 "--checkpoint", str(a))[0] == 0
    assert train(capsys, tmp_path / "first", *RESUME, "--iters", "100",
                 "--checkpoint", str(b))[0] == 0
    assert load_checkpoint(b)["model"]["step_count"] == 100
    assert train(capsys, tmp_path / "resumed", *RESUME, "--iters", "200",
                 "--checkpoint", str(b), "--resume")[0] == 0
    sa, sb = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    assert sb["step_count"] == 200
    assert np.array_equal(sa["W"], sb["W"])  # exact, not approximately
    assert np.array_equal(sa["optimizer"]["velocity"][0], sb["optimizer"]["velocity"][0])
    straight, resumed = metrics(tmp_path / "straight"), metrics(tmp_path / "resumed")
    assert resumed["resumed_from_step"] == 100 and resumed["steps"] == 200
    assert resumed["loss_history"] == straight["loss_history"]
    for key in ("train_accuracy", "val_accuracy", "test_accuracy", "final_loss"):
        assert resumed[key] == straight[key]


def test_checkpoint_holds_what_is_needed(capsys, tmp_path):
    path = tmp_path / "c.npz"
    assert train(capsys, tmp_path, *RESUME, "--iters", "40", "--checkpoint", str(path))[0] == 0
    state = load_checkpoint(path)
    model = state["model"]
    assert model["W"].shape == (65, 10) and model["b"] is None  # bias trick: b is in W
    assert model["step_count"] == 40 and model["rng"]["bit_generator"] == "PCG64"
    assert model["optimizer"]["momentum"] == 0.9
    assert state["config"]["lr"] == 0.003 and len(state["loss_history"]) == 40
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)


def test_failed_save_keeps_previous_checkpoint(capsys, tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    real, calls = checkpoint._write_npz, []

    def crash_on_second(f, arrays):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"PK\x03\x04 partial")
            raise OSError("no space left on device (simulated)")
        real(f, arrays)

    monkeypatch.setattr(checkpoint, "_write_npz", crash_on_second)
    rc, _, err = train(capsys, tmp_path, "--dataset", "blobs", "--iters", "30",
                       "--save-every", "10", "--checkpoint", str(path), "--quiet")
    assert rc == 1 and "simulated" in err
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
    assert load_checkpoint(path)["model"]["step_count"] == 10
    rc, _, _ = train(capsys, tmp_path / "out", "--dataset", "blobs", "--iters", "30",
                     "--save-every", "10", "--checkpoint", str(path), "--resume", "--quiet")
    assert rc == 0 and metrics(tmp_path / "out")["resumed_from_step"] == 10


def _resume_from(capsys, tmp_path, path: Path, *extra: str) -> tuple[int, str]:
    rc, _, err = train(capsys, tmp_path / "out", "--dataset", "blobs", "--iters", "20",
                       "--checkpoint", str(path), "--resume", "--quiet", *extra)
    return rc, err


def test_resume_errors_name_the_file(capsys, tmp_path):
    missing = tmp_path / "missing.npz"
    rc, err = _resume_from(capsys, tmp_path, missing)
    assert rc == 2 and f"{missing} does not exist" in err

    text = tmp_path / "notes.npz"
    text.write_text("not a checkpoint\n")
    rc, err = _resume_from(capsys, tmp_path, text)
    assert rc == 1 and f"{text} is not an .npz archive" in err

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, W=np.ones((3, 3)))
    rc, err = _resume_from(capsys, tmp_path, foreign)
    assert rc == 1 and f"{foreign} is not a tinygrad_lc checkpoint" in err and "W" in err

    other_kind = save_checkpoint(tmp_path / "kind.npz", {"W": np.ones(3)})
    rc, err = _resume_from(capsys, tmp_path, other_kind)
    assert rc == 1 and "not of a training run" in err

    good = tmp_path / "good.npz"
    assert train(capsys, tmp_path / "g", "--dataset", "blobs", "--iters", "10",
                 "--checkpoint", str(good), "--quiet")[0] == 0
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:-200])
    rc, err = _resume_from(capsys, tmp_path, truncated)
    assert rc == 1 and f"{truncated} is truncated or corrupt" in err

    rc, err = _resume_from(capsys, tmp_path, good, "--loss", "softmax")
    assert rc == 1 and f"{good} was written by a run with other settings" in err
    assert "loss: checkpoint 'svm', now 'softmax'" in err

    rc, err = _resume_from(capsys, tmp_path, good, "--iters", "5")
    assert rc == 2 and "at step 10, past --iters 5" in err
    assert err.startswith("tinygrad-lc train: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("option, value, said", [
    ("--loss", "softmax", "loss: checkpoint 'svm', now 'softmax'"),
    ("--regularizer", "l1", "regularizer: checkpoint 'l2', now 'l1'"),
    ("--reg", "0.5", "reg: checkpoint 0.001, now 0.5"),
    ("--lr", "0.5", "lr: checkpoint 0.1, now 0.5"),
    ("--batch-size", "7", "batch_size: checkpoint 50, now 7"),
    ("--momentum", "0.9", "momentum: checkpoint 0.0, now 0.9"),
    ("--seed", "3", "seed: checkpoint 0, now 3"),
    ("--dataset", "digits", "dataset: checkpoint 'blobs', now 'digits'"),
])
def test_resume_with_another_setting_is_refused(capsys, tmp_path, option, value, said):
    good = tmp_path / "good.npz"
    assert train(capsys, tmp_path / "g", "--dataset", "blobs", "--iters", "10",
                 "--checkpoint", str(good), "--quiet")[0] == 0
    rc, err = _resume_from(capsys, tmp_path, good, option, value)
    assert rc == 1 and f"{good} was written by a run with other settings" in err
    # the setting changed is named first (digits also changes the default lr, reg and batch)
    assert re.search(rf"that run: {re.escape(said)}[.;] ", err), err


def test_a_new_run_over_an_existing_checkpoint_is_refused_and_leaves_it(capsys, tmp_path):
    path = tmp_path / "run.npz"
    assert train(capsys, tmp_path / "a", "--dataset", "blobs", "--iters", "200",
                 "--checkpoint", str(path), "--quiet")[0] == 0
    before = path.read_bytes()
    rc, _, err = train(capsys, tmp_path / "b", "--dataset", "blobs", "--iters", "50",
                       "--checkpoint", str(path), "--quiet")
    assert rc == 2 and f"--checkpoint {path} already exists" in err
    assert "--resume" in err and "another --checkpoint path" in err, err  # both ways out
    assert path.read_bytes() == before and not (tmp_path / "b").exists()
    assert load_checkpoint(path)["model"]["step_count"] == 200


# ----------------------------------------------------------------------------- CIFAR-10


def _tiny_cifar(root: Path, sizes=(4, 4, 4, 4, 4), test_size=3) -> None:
    """The extracted cifar-10-batches-py folder in the real format, with random images."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, (*sizes, test_size)):
        batch = {b"batch_label": b"tiny", b"labels": rng.integers(0, 10, n).tolist(),
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [b"x.png"] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_train_cifar10_on_a_tiny_fake_archive(capsys, tmp_path, monkeypatch):
    _tiny_cifar(tmp_path / "data")
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "data"))
    rc, out, _ = train(capsys, tmp_path / "out", "--dataset", "cifar10", "--iters", "3",
                       "--batch-size", "4", "--quiet")
    assert rc == 0
    m = metrics(tmp_path / "out")
    cfg = m["config"]
    assert (cfg["num_train"], cfg["num_val"], cfg["num_test"]) == (18, 2, 3)
    assert (cfg["lr"], cfg["reg"]) == (5e-8, 5e2)  # the CIFAR-10 SVM defaults (a sweep's)
    assert m["steps"] == 3 and 0 <= m["test_accuracy"] <= 1
    w, h = png_size(tmp_path / "out" / "weights.png")
    assert w > 4 * h  # ten 32x32 colour templates in a row


def test_train_cifar10_without_data_says_where_to_put_it(capsys, tmp_path, monkeypatch):
    from tinygrad_lc.data import cifar10

    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path))
    with socket.socket() as s:  # a port on this machine where nothing listens: offline
        s.bind(("127.0.0.1", 0))
        monkeypatch.setattr(cifar10, "CIFAR10_URL", f"http://127.0.0.1:{s.getsockname()[1]}/")
    rc, _, err = train(capsys, tmp_path / "out", "--dataset", "cifar10", "--quiet")
    assert rc == 1 and "could not download" in err
    said = err.splitlines()  # pooch's line saying where it downloads to, then the error
    assert said[0].startswith("Downloading data from ") and len(said) == 2
    assert said[1].startswith("tinygrad-lc train: error: load_cifar10 could not download")
    assert "set TINYGRAD_LC_DATA to the folder" in err and "run the same command again" in err


# ----------------------------------------------------------------------------- gradcheck


def test_gradcheck_command(capsys):
    rc, out, _ = run(capsys, "gradcheck")
    assert rc == 0 and out.rstrip().endswith("all gradient checks passed")
    assert out.count("gradcheck passed") == 4 and out.count("grad_check_sparse passed") == 2
    rates = [float(x) for x in re.findall(r"max relative error (\S+)", out)]
    assert len(rates) == 6 and max(rates) < 1e-6


def test_gradcheck_command_catches_a_wrong_backward(capsys, monkeypatch):
    relu = OPS["relu"]
    doubled = lambda *args: 2 * relu.vjps[0](*args)  # the right forward, twice the derivative
    monkeypatch.setitem(OPS, "relu", dataclasses.replace(relu, vjps=(doubled,)))
    rc, out, _ = run(capsys, "gradcheck", "--loss", "svm", "--num-checks", "3")
    assert rc == 1 and "gradcheck FAILED" in out and "SOME GRADIENT CHECKS FAILED" in out
    rc, out, _ = run(capsys, "gradcheck", "--loss", "softmax")  # softmax has no relu
    assert rc == 0


def test_gradcheck_options(capsys):
    rc, out, _ = run(capsys, "gradcheck", "--loss", "softmax", "--regularizer", "elastic_net",
                     "--num-checks", "2", "--localize")
    assert rc == 0 and "elastic_net" in out and "local check of" in out
    assert "== svm loss ==" not in out
    rc, _, err = run(capsys, "gradcheck", "--num-checks", "0")
    assert rc == 2 and "--num-checks must be at least 1" in err
    for model in ("linear", "mlp"):  # refused before the picks are drawn (800 GB of them)
        rc, _, err = run(capsys, "gradcheck", "--model", model, "--num-checks", "99999999999")
        assert rc == 2 and "--num-checks must be at least 1 and at most 100,000" in err


# ----------------------------------------------------------------------------- demo


def test_demo_end_to_end(capsys, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed; the diagrams need it")
    rc, out, _ = run(capsys, "demo", "--out", str(tmp_path))
    assert rc == 0
    report = tmp_path / "report.html"
    assert f"report: {report.resolve()}" in out
    page = report.read_text(encoding="utf-8")
    for title in ("1. The lecture&#x27;s losses", "2. The full loss as a computation graph",
                  "3. Gradient checks", "4. Random search against SGD on digits",
                  "5. Loss curves and learned templates",
                  "6. Choosing lr and reg on the validation set"):
        assert title in page
    assert page.count("data:image/svg+xml;base64,") == 2  # the two diagrams
    assert page.count("data:image/png;base64,") == 5  # curves, three template rows, sweep
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)  # nothing outside the page
    assert "<td>cat</td>" in page and '<td class="num">5.27</td>' in page
    assert "The two random-search rows pick the same W, and no bug makes them alike" in page
    summary = json.loads((tmp_path / "demo.json").read_text())
    by = {(r["method"], r["loss"]): r["test_accuracy"] for r in summary["results"]}
    for loss in ("svm", "softmax"):
        assert by[("SGD", loss)] >= 0.93
        assert by[("random search", loss)] < by[("SGD", loss)] - 0.3
    assert all(c["passed"] and c["rel_error"] < 1e-6 for c in summary["gradchecks"])
    assert summary["sweep"]["trials"] == 24 and summary["sweep"]["test_accuracy"] >= 0.93
    for name in ("graph_svm.svg", "graph_softmax.png", "loss.png", "weights_svm.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_demo_without_graphviz_still_writes_the_report(capsys, tmp_path, monkeypatch):
    from tinygrad_lc.viz import diagram as viz

    def no_dot(root, path, **kw):
        raise viz.GraphvizNotFoundError("render: Graphviz's `dot` program is not on PATH")

    monkeypatch.setattr(viz, "render", no_dot)
    rc, out, _ = run(capsys, "demo", "--out", str(tmp_path), "--search-tries", "5", "--quiet")
    assert rc == 0 and "not on PATH" in out
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Diagrams not drawn" in page and "data:image/svg+xml" not in page


def test_demo_on_cifar10_from_a_tiny_fake_archive(capsys, tmp_path, monkeypatch):
    _tiny_cifar(tmp_path / "data")
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "data"))
    rc, out, _ = run(capsys, "demo", "--dataset", "cifar10", "--out", str(tmp_path / "out"),
                     "--iters", "5", "--search-tries", "3", "--quiet")
    assert rc == 0 and "Random search (strategy #1) against SGD on cifar10" in out
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "4. Random search against SGD on cifar10" in page and "18 training" in page
    assert "5 steps of batch 500" in page  # the CIFAR-10 defaults
    w, h = png_size(tmp_path / "out" / "weights_softmax.png")
    assert w > 4 * h  # ten 32x32 colour templates


def test_demo_option_errors(capsys, tmp_path):
    for argv in (["--iters", "0"], ["--search-tries", "0"]):
        rc, _, err = run(capsys, "demo", "--out", str(tmp_path), *argv)
        assert rc == 2 and "must be >= 1" in err
    assert not (tmp_path / "report.html").exists()


# ----------------------------------------------------------------------------- bad values


def usage_error(capsys, *argv: str) -> str:
    """Run a command that argparse must refuse; return its stderr."""
    with pytest.raises(SystemExit) as info:
        cli.main(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--weight-scale", "-1"], "--weight-scale must be >= 0 and finite, got -1"),
    (["--weight-scale", "inf"], "--weight-scale must be >= 0 and finite, got inf"),
    (["--lr", "inf"], "--lr must be > 0 and finite, got inf"),
    (["--lr", "nan"], "--lr must be > 0 and finite, got nan"),
])
def test_bad_numbers_are_usage_errors(capsys, tmp_path, argv, message):
    rc, _, err = train(capsys, tmp_path, "--quiet", *argv)
    assert rc == 2 and err == f"tinygrad-lc train: error: {message}\n"
    assert not (tmp_path / "metrics.json").exists()


def test_model_refusals_become_usage_errors(capsys, tmp_path, monkeypatch):
    from tinygrad_lc.cli import train as train_cmd

    real = train_cmd.config_from_args

    def unchecked(args):  # lets a bad value reach LinearClassifier, as a new option might
        return dataclasses.replace(real(args), weight_scale=-1.0)

    monkeypatch.setattr(train_cmd, "config_from_args", unchecked)
    monkeypatch.setattr(train_cmd.TrainConfig, "check", lambda self, **kw: None)  # after load
    rc, _, err = train(capsys, tmp_path, "--dataset", "blobs", "--quiet")
    assert rc == 2 and err.startswith("tinygrad-lc train: error: LinearClassifier: weight_scale")


@pytest.mark.parametrize("command", ["train", "demo", "gradcheck"])
def test_negative_seed_is_a_usage_error(capsys, tmp_path, command):
    err = usage_error(capsys, command, "--seed", "-1")
    assert f"tinygrad-lc {command}: error: argument --seed: must be an integer >= 0, " \
           "got '-1'" in err


@pytest.mark.parametrize("command", ["train", "gradcheck", "graph"])
@pytest.mark.parametrize("option, value", [("--reg", "nan"), ("--reg", "-0.5"), ("--reg", "inf"),
                                           ("--beta", "-1"), ("--beta", "nan")])
def test_bad_strengths_are_usage_errors_in_every_command(capsys, tmp_path, command, option,
                                                          value):
    err = usage_error(capsys, command, option, value)
    assert f"tinygrad-lc {command}: error: argument {option}: must be a finite number >= 0, " \
           f"got '{value}'" in err
    assert list(tmp_path.iterdir()) == []


def _fake_sparse(errors: list[float], kinks: list[bool]):
    """A grad_check_sparse that prints one line per entry as the real one does."""
    def fake(f, x, analytic_grad, num_checks=10, seed=None, return_kinks=False):
        for k, (e, kink) in enumerate(zip(errors, kinks)):
            flag = "  (kink: op 'relu' changed side)" if kink else ""
            print(f"({k}, 0): numerical 1  analytic 1  relative error {e:.3e}{flag}")
        return (np.array(errors), np.array(kinks)) if return_kinks else np.array(errors)
    return fake


def test_sparse_check_fails_on_a_nan_error(monkeypatch):
    from tinygrad_lc.cli import gradcheck  # where check_loss looks grad_check_sparse up
    from tinygrad_lc.cli.gradcheck import check_loss

    # NaN after the first entry: Python's max(1e-9, nan) is 1e-9 and said "passed"
    monkeypatch.setattr(gradcheck, "grad_check_sparse",
                        _fake_sparse([1e-9, float("nan"), 1.0], [False, False, True]))
    sparse = check_loss("softmax", num_checks=3)[2]
    assert not sparse.passed and np.isnan(sparse.rel_error) and sparse.kinks == 1
    assert sparse.text.startswith("grad_check_sparse FAILED")


def test_sparse_check_ignores_only_entries_at_kinks(monkeypatch):
    from tinygrad_lc.cli import gradcheck  # where check_loss looks grad_check_sparse up
    from tinygrad_lc.cli.gradcheck import check_loss

    monkeypatch.setattr(gradcheck, "grad_check_sparse",
                        _fake_sparse([1e-9, 0.5, 2e-9], [False, True, False]))
    sparse = check_loss("softmax", num_checks=3)[2]
    assert sparse.passed and sparse.rel_error == 2e-9 and sparse.kinks == 1
    monkeypatch.setattr(gradcheck, "grad_check_sparse",
                        _fake_sparse([1e-9, 0.5], [False, False]))
    assert not check_loss("softmax", num_checks=2)[2].passed


def test_random_search_time_leaves_out_the_accuracy_passes(monkeypatch):
    from types import SimpleNamespace

    from tinygrad_lc.cli import demo
    from tinygrad_lc.data import datasets
    from tinygrad_lc.models import training

    clock = [0.0]

    def slow_accuracy(model, X, y):  # each accuracy pass takes 100 "seconds" on the clock
        clock[0] += 100.0
        return 0.5

    monkeypatch.setattr(demo, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(datasets, "accuracy", slow_accuracy)
    data = training.load_dataset("blobs", seed=0)
    result = demo._search(data, "svm", tries=3, seed=0)
    assert result["seconds"] == 0.0 and clock[0] == 300.0


def test_written_files_get_the_usual_mode(capsys, tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "c.npz"
        assert train(capsys, tmp_path / "out", "--dataset", "blobs", "--iters", "5",
                     "--checkpoint", str(path), "--quiet")[0] == 0
    finally:
        os.umask(umask)
    for p in (path, tmp_path / "out" / "metrics.json"):
        assert p.stat().st_mode & 0o777 == 0o644, p
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz", "out"]  # no temp files


# ----------------------------------------------------------------------------- interrupted runs


def _start_train(tmp_path: Path, *argv: str) -> subprocess.Popen:
    """`python -m tinygrad_lc train` on digits for far more steps than a test waits for."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-m", "tinygrad_lc", "train", "--dataset", "digits",
         "--iters", "1000000", "--out", str(tmp_path / "out"), *argv],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stopped(proc: subprocess.Popen) -> tuple[str, str]:
    """The output of a run that was just sent a signal. One that goes on instead (the signal
    was lost) is killed, and its stderr shows why, e.g. "Exception ignored in ... Interrupted"
    for a signal handled inside a finalizer before interrupts.py handled that case."""
    try:
        return proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"train did not stop on the signal: {proc.communicate()}")


def _wait_until(proc: subprocess.Popen, started) -> None:
    """Poll until ``started()`` (the run is stepping). The limit only guards against a hang."""
    limit = time.monotonic() + 300
    while not started():
        if proc.poll() is not None:
            pytest.fail(f"train ended before it was interrupted: {proc.communicate()}")
        if time.monotonic() > limit:
            proc.kill()
            pytest.fail(f"train never started stepping: {proc.communicate()}")
        time.sleep(0.05)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_says_where_it_is_in_one_line_and_resumes(capsys, tmp_path, signum, code):
    path = tmp_path / "ck.npz"
    proc = _start_train(tmp_path, "--checkpoint", str(path), "--save-every", "20", "--quiet")
    _wait_until(proc, path.exists)  # saved atomically: once it exists, steps are running
    proc.send_signal(signum)
    out, err = _stopped(proc)
    assert proc.returncode == code, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    found = re.fullmatch(r"tinygrad-lc train: interrupted at step (\d+) of 1000000; "
                         r"(\S+) holds step (\d+); resume with: (python -m tinygrad_lc .*)\n",
                         err)
    assert found, err
    reached, held, command = int(found[1]), int(found[3]), found[4]
    assert found[2] == str(path) and 20 <= held <= reached and held % 20 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]  # no temporary files
    assert load_checkpoint(path)["model"]["step_count"] == held
    # the printed command resumes the run (here up to 5 more steps)
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "tinygrad_lc"] and words[-1] == "--resume"
    rc, _, err = run(capsys, *words[3:], "--iters", str(held + 5))  # in this process
    assert rc == 0, err
    result = metrics(tmp_path / "out")
    assert result["resumed_from_step"] == held and result["steps"] == held + 5


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_handled_in_a_training_steps_finalizer_stops_the_run(capsys, tmp_path,
                                                                      monkeypatch, signum, code):
    """The race the test above met now and then, made certain: Python may run the signal's
    handler inside the ``__del__`` of a compiled step (``compile._Pending``, freed at every
    step), where an exception is printed and dropped, and the run went on."""
    compiled = importlib.import_module("tinygrad_lc.compile.compiled")
    real_del = compiled._Pending.__del__
    path = tmp_path / "ck.npz"
    sent = []

    def del_and_get_signalled(self):
        real_del(self)
        if path.exists() and not sent:  # the first step after the first save
            sent.append(signum)
            signal.raise_signal(signum)  # the handler runs here, inside __del__

    monkeypatch.setattr(compiled._Pending, "__del__", del_and_get_signalled)
    rc, out, err = train(capsys, tmp_path / "out", "--dataset", "digits", "--iters", "200",
                         "--checkpoint", str(path), "--save-every", "20", "--quiet")
    assert sent == [signum] and rc == code, err
    assert out == "" and re.fullmatch(
        r"tinygrad-lc train: interrupted at step 2\d of 200; \S+ holds step 20; resume with: "
        r"tinygrad-lc train .* --resume\n", err), err  # one line: no "Exception ignored in"
    assert load_checkpoint(path)["model"]["step_count"] == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]


def test_a_stopped_run_without_checkpoint_says_nothing_was_saved(tmp_path):
    proc = _start_train(tmp_path)
    # the settings line comes just before the first step (PYTHONUNBUFFERED: line by line)
    _wait_until(proc, lambda: "steps of batch" in proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    _, err = _stopped(proc)
    assert proc.returncode == 130 and "Traceback" not in err
    last = err.splitlines()[-1]  # after the progress bar
    assert re.fullmatch(r"tinygrad-lc train: interrupted at step \d+ of 1000000; nothing was "
                        r"saved \(with --checkpoint PATH a run can be stopped and resumed\)", last)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_message_of_a_run_stopped_before_its_first_save():
    from tinygrad_lc.cli import train as train_cmd

    args = cli.build_parser().parse_args(["train", "--checkpoint", "c.npz", "--save-every", "50"])
    args._argv = ["train", "--checkpoint", "c.npz", "--save-every", "50"]
    progress = train_cmd._Progress()
    assert train_cmd.interrupted_message(args, progress) == (
        "interrupted before training started; no file was changed")
    progress.trainer = type("T", (), {"step": 7, "saved_step": None})()
    progress.total = 300
    assert train_cmd.interrupted_message(args, progress) == (
        "interrupted at step 7 of 300; c.npz holds no step of this run yet (the first save "
        "comes at step 50); start again with: tinygrad-lc train --checkpoint c.npz "
        "--save-every 50")
    del args._argv  # run() called without cli.main: every setting is spelled out
    progress.trainer.saved_step = 0
    command = train_cmd.interrupted_message(args, progress).partition("resume with: ")[2]
    again = cli.build_parser().parse_args(shlex.split(command)[1:])
    assert again.resume and again.checkpoint == "c.npz"
    assert train_cmd.config_from_args(again) == train_cmd.config_from_args(args)


# ----------------------------------------------------------------------------- mistaken options


@pytest.mark.parametrize("option, make, words", [
    ("--out", lambda d: d / "afile", "--out {path} is a file"),
    ("--out", lambda d: d / "afile" / "sub", "--out: {afile} is a file"),
    ("--checkpoint", lambda d: d, "--checkpoint {path} is a folder"),
    ("--checkpoint", lambda d: d / "afile" / "c.npz", "--checkpoint: {afile} is a file"),
])
def test_unusable_out_or_checkpoint_is_refused_before_loading_data(capsys, tmp_path, monkeypatch,
                                                                   option, make, words):
    from tinygrad_lc.models import training

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded before the paths were checked")

    monkeypatch.setattr(training, "load_dataset", no_data)
    (tmp_path / "afile").write_text("not a folder\n")
    path = make(tmp_path)
    argv = ["--out", str(tmp_path / "out")] if option == "--checkpoint" else []
    rc, out, err = run(capsys, "train", "--dataset", "blobs", "--quiet", *argv, option, str(path))
    assert rc == 2 and out == ""
    assert err.startswith("tinygrad-lc train: error: ") and err.count("\n") == 1
    assert words.format(path=path, afile=tmp_path / "afile") in err


@pytest.mark.parametrize("size", [str(10**13), "421"])
def test_batch_size_beyond_the_training_set_is_a_usage_error(capsys, tmp_path, size):
    rc, out, err = train(capsys, tmp_path, "--dataset", "blobs", "--batch-size", size, "--quiet")
    assert rc == 2 and out == "" and err == (
        f"tinygrad-lc train: error: --batch-size {size} is more than the 420 training examples "
        "of blobs; use at most 420\n")
    rc, _, _ = train(capsys, tmp_path, "--dataset", "blobs", "--batch-size", "420", "--iters",
                     "2", "--quiet")
    assert rc == 0


@pytest.mark.parametrize("command", ["gradcheck", "graph", "demo"])
def test_ctrl_c_in_any_command_is_one_line_and_exit_130(capsys, monkeypatch, command):
    module = __import__(f"tinygrad_lc.cli.{command}", fromlist=["run"])

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "run", interrupted)
    try:
        rc, out, err = run(capsys, command)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped cli.main as a traceback")
    assert rc == 130 and err == f"tinygrad-lc {command}: interrupted before it finished\n"


def _blocks_of_gradcheck_output(out: str) -> list[str]:
    """Each check's text in `tinygrad-lc gradcheck`'s output, from its '-- ' line to its summary."""
    return re.split(r"^-- ", out, flags=re.M)[1:]


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_gradcheck_summary_is_the_relative_error_of_the_worst_line(capsys, model):
    rc, out, _ = run(capsys, "gradcheck", "--model", model, "--num-checks", "4")
    assert rc == 0
    blocks = _blocks_of_gradcheck_output(out)
    assert len(blocks) == (6 if model == "linear" else 4)
    for block in blocks:
        summary = re.findall(r"^   max relative error (\S+)", block, flags=re.M)
        assert len(summary) == 1, block
        # the per-entry lines: a gradcheck's input lines, grad_check_sparse's entries
        shown = [float(x) for line in block.splitlines()
                 if not line.startswith("   max") and "(kink:" not in line
                 for x in re.findall(r"relative error (\d[^\s;,]*)", line)]
        assert shown, block
        assert float(f"{max(shown):.2e}") == float(summary[0]), block
    assert "relative error = |a - n| / max(|a| + |n|, 1e-8)" in out
