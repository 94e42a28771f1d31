"""Tests for tinygrad_lc/sweep.py and its parts: spaces, the trial function, trials.jsonl,
the executors (in-process and local worker processes), worker deaths, resume, selection.

No CIFAR-10: blobs (generated) and digits (shipped in the package) only. The Dask cluster
tests are in test_sweep_cluster.py, the command line in test_sweep_cli.py.
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest

from tinygrad_lc import data, sweep
from tinygrad_lc.sweep import (
    Choice,
    LogUniform,
    SweepError,
    SweepFileError,
    Uniform,
    grid,
    run_sweep,
    sample,
    search,
)
from tinygrad_lc.sweep import runner as sweep_run
from tinygrad_lc.sweep.log import TrialLog, read_trials
from tinygrad_lc.sweep.spaces import edge_warnings, narrow
from tinygrad_lc.sweep.trial import Task, run_trial, shared_dataset, trial_seed

SAME = ("trial", "seed", "config", "status", "train_accuracy", "val_accuracy", "final_loss",
        "steps", "weights_sha256", "error")  # everything but timing and the worker's name
SPACE = {"lr": LogUniform(1e-3, 1e0), "reg": LogUniform(1e-5, 1e-1), "iters": 60}


@pytest.fixture(autouse=True)
def data_cache(tmp_path, monkeypatch):
    """Every test gets its own data cache (and so builds its own memory-mapped arrays)."""
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr("tinygrad_lc.sweep.trial._loaded", {})


def same(records):
    """The records' numbers, by trial (trials.jsonl is in the order they finished)."""
    return sorted(({k: r[k] for k in SAME} for r in records), key=lambda r: r["trial"])


# ---------------------------------------------------------------------- spaces
@pytest.mark.parametrize("make, message", [
    (lambda: LogUniform(1e-2, 1e-4), "reversed"),
    (lambda: LogUniform(0, 1), "0 < low"),
    (lambda: LogUniform(-1, 1), "0 < low"),
    (lambda: LogUniform(1e-3, 1e-3), "fixed value"),
    (lambda: LogUniform(1e-3, math.inf), "finite"),
    (lambda: Uniform(1, 0), "reversed"),
    (lambda: Choice([]), "empty"),
])
def test_bad_spaces_are_named_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_sample_is_seeded_and_stays_in_range():
    space = {"lr": LogUniform(1e-6, 1e-2), "momentum": Uniform(0.0, 0.9),
             "loss": Choice(["svm", "softmax"]), "iters": 10}
    a, b, c = sample(space, 200, seed=1), sample(space, 200, seed=1), sample(space, 200, seed=2)
    assert a == b and a != c
    lr = np.array([x["lr"] for x in a])
    assert lr.min() >= 1e-6 and lr.max() <= 1e-2
    # log-uniform: each decade gets about a quarter of the draws
    counts = np.histogram(np.log10(lr), bins=4, range=(-6, -2))[0]
    assert counts.min() > 25, counts
    assert {x["loss"] for x in a} == {"svm", "softmax"}
    assert all(0 <= x["momentum"] <= 0.9 and x["iters"] == 10 for x in a)


def test_grid_covers_every_combination_with_the_ends():
    configs = grid({"lr": LogUniform(1e-4, 1e-2), "reg": Uniform(0, 1), "loss": Choice(
        ["svm", "softmax"]), "iters": 5}, 3)
    assert len(configs) == 3 * 3 * 2
    assert sorted({c["lr"] for c in configs}) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert sorted({c["reg"] for c in configs}) == [0.0, 0.5, 1.0]
    assert {c["iters"] for c in configs} == {5}
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        grid({"lr": LogUniform(1e-4, 1e-2)}, 0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        sample({"lr": LogUniform(1e-4, 1e-2)}, 0)


def test_narrow_halves_the_log_width_around_the_best():
    space = narrow({"lr": LogUniform(1e-6, 1e-2), "loss": Choice(["svm"])}, {"lr": 1e-5})
    assert space["lr"].low == pytest.approx(1e-6) and space["lr"].high == pytest.approx(1e-4)
    assert space["loss"] == Choice(["svm"])


@pytest.mark.parametrize("best, place", [
    (0.9e-2, "in the top 10% of"), (1.1e-6, "in the bottom 10% of"), (1e-4, None),
    (0.5e-6, "below"), (2e-2, "above")])  # refined rounds may go past the range
def test_edge_warning_names_the_parameter_and_the_direction(best, place):
    messages = edge_warnings({"lr": LogUniform(1e-6, 1e-2)}, {"lr": best},
                             lambda name: f"--{name}")
    if place is None:
        assert messages == []
    else:
        (message,) = messages
        assert f"the best lr, {best:g}, lies {place} its range 1e-06:0.01" in message
        up = best > 1e-4
        assert f"widen the range {'upward' if up else 'downward'}" in message
        assert ("--lr 1e-06:0.1" if up else "--lr 1e-07:0.01") in message


# ---------------------------------------------------------------------- trials
def test_trial_seed_depends_on_the_sweep_seed_and_the_index_only():
    seeds = {trial_seed(s, i) for s in range(3) for i in range(50)}
    assert len(seeds) == 150
    assert trial_seed(7, 3) == int(np.random.SeedSequence(7).spawn(4)[3].generate_state(1)[0])


def test_shared_dataset_maps_one_copy_from_the_cache(tmp_path):
    from tinygrad_lc.models.training import load_dataset

    d = shared_dataset("digits", seed=3)
    plain = load_dataset("digits", seed=3)
    assert isinstance(d.X_train, np.memmap) and not d.X_train.flags.writeable
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(d, name), getattr(plain, name))
    assert d.class_names == plain.class_names and d.image_shape == plain.image_shape
    entries = lambda: [p for p in (tmp_path / "cache" / "arrays").iterdir()  # noqa: E731
                       if not p.name.startswith(".")]  # but the lock files
    (folder,) = entries()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{n}.npy" for n in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")]
        + ["manifest.json"])
    # another split seed is another cache entry
    shared_dataset("digits", seed=4)
    assert len(entries()) == 2


def test_cached_arrays_rebuilds_a_damaged_entry(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"X": np.arange(4.0)}, {}

    arrays, _ = data.cached_arrays({"k": 1}, build, root=tmp_path)
    (folder,) = (tmp_path / "arrays").glob("[!.]*")
    (folder / "X.npy").write_bytes(b"garbage")
    arrays, _ = data.cached_arrays({"k": 1}, build, root=tmp_path)
    assert len(calls) == 2 and arrays["X"].tolist() == [0, 1, 2, 3]


def test_a_trial_is_the_train_command_run():
    """The trial trains with training.Trainer: the same weights as a plain Trainer run."""
    from tinygrad_lc.models.training import TrainConfig, Trainer, load_dataset
    from tinygrad_lc.sweep.trial import weights_digest

    task = Task(0, trial_seed(0, 0), "blobs", 0, {"lr": 0.05, "reg": 1e-3, "iters": 40})
    record = run_trial(task)
    d = load_dataset("blobs", 0)
    trainer = Trainer(TrainConfig.for_dataset("blobs", lr=0.05, reg=1e-3, iters=40,
                                              seed=task.seed), d.num_features, d.num_classes)
    trainer.train(d.X_train, d.y_train, progress=False)
    assert record["weights_sha256"] == weights_digest(trainer.model)
    assert record["final_loss"] == trainer.loss_history[-1]
    assert record["val_accuracy"] == d.accuracies(trainer.model)["val"]
    assert record["status"] == "ok" and record["steps"] == 40 and "test_accuracy" not in record


def test_divergence_is_recorded_and_the_sweep_goes_on(tmp_path):
    configs = [{"lr": 1e30, "iters": 30}, {"lr": 0.05, "iters": 30}]
    result = run_sweep(configs, "blobs", workers=0, out=tmp_path / "s")
    bad, good = result.trials
    assert bad["status"] == "diverged" and "lower the learning rate" in bad["error"]
    assert bad["final_loss"] is None and bad["val_accuracy"] is None
    assert good["status"] == "ok" and result.best["trial"] == 1
    lines = (tmp_path / "s" / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["diverged", "ok"]


def test_a_trial_that_fails_fails_alone(tmp_path):
    import sweep_helpers

    s = sweep_run.Runner("blobs", 0, 0, None, tmp_path / "s", False, False, 2,
                         trial=sweep_helpers.fail_in_training)
    try:
        records = s.run([{"iters": 5}, {"iters": 5}])
    finally:
        s.close()
    assert [t["status"] for t in records] == ["failed", "ok"]
    assert "batch_size" in records[0]["error"]


@pytest.mark.parametrize("config, message", [
    ({"learning_rate": 0.1}, "unknown train option 'learning_rate'"),
    ({"seed": 3}, "seed is not a sweep option"),
    ({"dataset": "digits"}, "dataset argument"),
    ({"iters": "many"}, "iters must be int"),
    ({"lr": "fast"}, "lr must be float"),
])
def test_bad_configurations_are_named_before_anything_runs(tmp_path, config, message):
    with pytest.raises(SweepError, match=message):
        run_sweep([config], "blobs", workers=0, out=tmp_path / "s")
    assert not (tmp_path / "s" / "trials.jsonl").exists() or \
        (tmp_path / "s" / "trials.jsonl").read_text() == ""


def test_unknown_option_in_a_search_space_is_named():
    with pytest.raises(SweepError, match="unknown train option 'rate'"):
        search({"rate": LogUniform(1e-3, 1e-1)}, "blobs", trials=2, workers=0)
    with pytest.raises(SweepError, match="takes names"):
        search({"loss": LogUniform(1e-3, 1e-1)}, "blobs", trials=2, workers=0)


# ---------------------------------------------------------------------- executors
def test_same_results_in_process_and_in_worker_processes(tmp_path):
    configs = sample(SPACE, 4, seed=5)
    here = run_sweep(configs, "digits", workers=0, seed=2)
    there = run_sweep(configs, "digits", workers=2, seed=2, out=tmp_path / "w")
    assert here.executor == "in-process" and there.executor == "local processes"
    assert same(here.trials) == same(there.trials)
    assert {t["worker"] for t in there.trials}.isdisjoint({t["worker"] for t in here.trials})
    # and the file holds exactly what was returned
    assert same(read_trials(tmp_path / "w" / "trials.jsonl")) == same(there.trials)


def test_a_worker_that_dies_once_is_retried(tmp_path, monkeypatch):
    import sweep_helpers

    monkeypatch.setenv(sweep_helpers.MARKS, str(tmp_path))
    s = sweep_run.Runner("blobs", 0, 2, None, tmp_path / "s", False, False, 3,
                     trial=sweep_helpers.die_once)
    try:
        records = s.run([{"iters": 20}] * 3)
    finally:
        s.close()
    assert [r["status"] for r in records] == ["ok"] * 3
    assert [r["attempts"] for r in records] == [1, 2, 1]
    reference = run_sweep([{"iters": 20}] * 3, "blobs", workers=0)
    assert same(records) == same(reference.trials)


def test_a_worker_that_dies_twice_fails_its_trial_only(tmp_path):
    import sweep_helpers

    s = sweep_run.Runner("blobs", 0, 2, None, tmp_path / "s", False, False, 3,
                     trial=sweep_helpers.die)
    try:
        records = s.run([{"iters": 20}] * 3)
    finally:
        s.close()
    assert [r["status"] for r in records] == ["ok", "failed", "ok"]
    assert "worker died 2 times" in records[1]["error"] and records[1]["attempts"] == 2
    assert "starts" not in records[0]
    lines = read_trials(tmp_path / "s" / "trials.jsonl")
    assert sorted(r["trial"] for r in lines) == [0, 1, 2]


# ---------------------------------------------------------------------- trials.jsonl
def test_each_trial_is_one_line_written_as_it_finishes(tmp_path):
    result = run_sweep(sample(SPACE, 3, seed=0), "blobs", workers=0, out=tmp_path)
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert same([json.loads(line) for line in lines]) == same(result.trials)


def test_resume_skips_recorded_trials_and_redoes_a_truncated_one(tmp_path):
    configs = sample(SPACE, 4, seed=0)
    first = run_sweep(configs, "blobs", workers=0, out=tmp_path)
    path = tmp_path / "trials.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    # a crash in the middle of writing the fourth line
    path.write_bytes(b"".join(lines[:3]) + lines[3][:25])
    with pytest.warns(UserWarning, match="dropped a truncated last line"):
        again = run_sweep(configs, "blobs", workers=0, out=tmp_path, resume=True)
    assert same(again.trials) == same(first.trials)
    # the three kept trials were not run again: their records (with their times) are as read
    assert again.trials[:3] == [json.loads(line) for line in lines[:3]]
    after = path.read_bytes().splitlines(keepends=True)
    assert after[:3] == lines[:3] and len(after) == 4
    redone = json.loads(after[3])  # the cut trial, run again and written whole
    assert redone["trial"] == json.loads(lines[3][:-1] if lines[3].endswith(b"\n")
                                          else lines[3])["trial"]
    assert same([redone]) == same([first.trials[3]])


def test_a_new_sweep_refuses_a_folder_with_trials(tmp_path):
    run_sweep([{"iters": 5}], "blobs", workers=0, out=tmp_path)
    before = (tmp_path / "trials.jsonl").read_bytes()
    with pytest.raises(SweepFileError, match="already holds trials.*resume"):
        run_sweep([{"iters": 5}], "blobs", workers=0, out=tmp_path)
    assert (tmp_path / "trials.jsonl").read_bytes() == before


def test_resume_refuses_another_sweeps_file(tmp_path):
    run_sweep([{"iters": 5, "lr": 0.1}], "blobs", workers=0, out=tmp_path)
    before = (tmp_path / "trials.jsonl").read_bytes()
    with pytest.raises(SweepFileError, match="written by another sweep"):
        run_sweep([{"iters": 5, "lr": 0.2}], "blobs", workers=0, out=tmp_path, resume=True)
    with pytest.raises(SweepFileError, match="written by another sweep"):
        run_sweep([{"iters": 5, "lr": 0.1}], "blobs", workers=0, out=tmp_path, resume=True,
                  seed=1)
    assert (tmp_path / "trials.jsonl").read_bytes() == before


@pytest.mark.parametrize("content, where", [
    (b'{"trial": 0, "config": {}, "status": "failed"}\nnot json\n{"trial": 2, "config": {}, '
     b'"status": "failed"}\n', "line 2"),
    (b'{"trial": 0, "config": {}}\n', "line 1"),
    (b"\x89PNG\r\n\x1a", "not a trial record"),
])
def test_an_unreadable_file_is_a_named_error_and_left_alone(tmp_path, content, where):
    path = tmp_path / "trials.jsonl"
    path.write_bytes(content)
    with pytest.raises(SweepFileError, match=where):
        run_sweep([{"iters": 5}], "blobs", workers=0, out=tmp_path, resume=True)
    assert path.read_bytes() == content


def test_trial_log_writes_whole_json_lines(tmp_path):
    with TrialLog(tmp_path / "t.jsonl") as log:
        log.append({"status": "diverged", "trial": 3, "config": {}, "x": np.float32(0.5),
                    "y": float("inf")})
    line = (tmp_path / "t.jsonl").read_text()
    assert line.startswith('{"trial": 3') and line.endswith("}\n")
    assert json.loads(line) == {"trial": 3, "status": "diverged", "config": {}, "x": 0.5,
                                "y": None}


# ---------------------------------------------------------------------- selection
def test_best_is_by_validation_accuracy_and_the_table_is_sorted(tmp_path):
    result = search(SPACE, "digits", trials=5, workers=0, seed=1)
    vals = [t["val_accuracy"] for t in result.trials]
    assert result.best["val_accuracy"] == max(vals)
    assert result.best["trial"] == vals.index(max(vals))  # the earliest of equals
    rows = result.table().splitlines()[2:]
    shown = [float(row.split()[-3]) for row in rows]
    assert shown == sorted(shown, reverse=True) and len(rows) == 5


def test_best_ignores_trials_that_did_not_finish():
    result = sweep.SweepResult([
        {"trial": 0, "config": {}, "status": "diverged", "val_accuracy": None},
        {"trial": 1, "config": {}, "status": "failed", "val_accuracy": None},
        {"trial": 2, "config": {}, "status": "ok", "val_accuracy": 0.5},
    ], "blobs")
    assert result.best["trial"] == 2
    assert sweep.SweepResult(result.trials[:2], "blobs").best is None


def test_refine_rounds_narrow_around_the_best_and_resume_across_rounds(tmp_path):
    result = search(SPACE, "blobs", trials=3, refine=2, workers=0, out=tmp_path, seed=4)
    assert [t["trial"] for t in result.trials] == list(range(9))
    assert [t["round"] for t in result.trials] == [0] * 3 + [1] * 3 + [2] * 3
    widths = [math.log10(s["lr"].high / s["lr"].low) for s in result.spaces]
    assert widths == pytest.approx([3.0, 1.5, 0.75])
    for r in (1, 2):  # each round's range is centred on the best trial before it
        before = sweep.SweepResult(result.trials[:3 * r], "blobs").best
        space = result.spaces[r]["lr"]
        assert math.sqrt(space.low * space.high) == pytest.approx(before["config"]["lr"])
    # resuming a finished sweep runs nothing and gives the same rounds
    lines = (tmp_path / "trials.jsonl").read_bytes()
    again = search(SPACE, "blobs", trials=3, refine=2, workers=0, out=tmp_path, seed=4,
                   resume=True)
    assert again.trials == result.trials and (tmp_path / "trials.jsonl").read_bytes() == lines


def test_search_warns_when_the_best_is_at_the_edge():
    # too few small steps: the largest lr of the grid is the best
    result = search({"lr": LogUniform(1e-6, 1e-5), "iters": 30}, "digits", grid_k=3, workers=0)
    assert result.best["config"]["lr"] == 1e-5
    (message,) = result.warnings
    assert "the best lr" in message and "top 10%" in message and "widen" in message


def test_retrain_reproduces_the_best_and_scores_the_test_set_once(monkeypatch):
    # digits: train, validation and test accuracies differ (on blobs all are 1.0)
    result = run_sweep(sample({**SPACE, "iters": 60}, 3, seed=0), "digits", workers=0)
    calls = []
    from tinygrad_lc.data import datasets

    real = datasets.accuracy
    monkeypatch.setattr(datasets, "accuracy",
                        lambda model, X, y, **kw: calls.append(len(y)) or real(model, X, y, **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer, d, acc = sweep.retrain(result.best)
    assert acc["val"] == result.best["val_accuracy"]
    assert acc["train"] == result.best["train_accuracy"]
    assert len({acc["train"], acc["val"], acc["test"]}) == 3  # each from its own split
    assert calls.count(len(d.y_test)) == 1 and set(acc) == {"train", "val", "test"}


def test_scheduler_without_dask_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_lc\[cluster\]'"):
        run_sweep([{"iters": 5}], "blobs", scheduler="tcp://127.0.0.1:8786")


def test_workers_default_to_the_cores():
    from tinygrad_lc.sweep.executors import default_workers

    assert default_workers() == len(os.sched_getaffinity(0))


def test_the_two_layer_net_sweeps_too(tmp_path):
    """--model mlp: standardized data (its own cache entry), every layer in the digest."""
    configs = [{"model": "mlp", "hidden": "8", "iters": 30, "lr": lr} for lr in (1e-2, 3e-2)]
    here = run_sweep(configs, "blobs", workers=0)
    there = run_sweep(configs, "blobs", workers=1, out=tmp_path / "w")
    assert [t["status"] for t in here.trials] == ["ok", "ok"]
    assert here.trials[0]["config"]["hidden"] == (8,)
    assert same(here.trials) == same(there.trials)  # in a worker process too
    assert here.trials[0]["weights_sha256"] != here.trials[1]["weights_sha256"]
    lines = (tmp_path / "w" / "trials.jsonl").read_bytes()
    again = run_sweep(configs, "blobs", workers=0, out=tmp_path / "w", resume=True)
    assert (tmp_path / "w" / "trials.jsonl").read_bytes() == lines  # nothing run again
    assert [t["weights_sha256"] for t in again.trials] == \
        [t["weights_sha256"] for t in here.trials]
    trainer, _, acc = sweep.retrain(here.best)
    assert acc["val"] == here.best["val_accuracy"]


# ---------------------------------------------------------------------- trials.jsonl, checked
def _record(number: int, **values) -> dict:
    """A trial record as the sweep writes one (the numbers made up)."""
    return {"trial": number, "seed": 1, "dataset": "blobs", "data_seed": 0,
            "config": {"lr": 0.1, "iters": 5}, "status": "ok", "train_accuracy": 0.9,
            "val_accuracy": 0.8, "final_loss": 0.3, "seconds": 0.01, "steps": 5,
            "weights_sha256": "0" * 64, "error": None, "warnings": [], "worker": "host:1",
            "attempts": 1, "round": 0, **values}


def _lines(*records) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n"
                    for r in records)


@pytest.mark.parametrize("content, why", [
    (_lines(_record(0), _record(1), _record(0, val_accuracy=0.95)),
     r"line 3 is not a trial record \(it records trial 0 again, which line 1 records"),
    (_lines(_record(0), b'{"trial": 1, "config": {}, "status": "ok", "val_accuracy": NaN}'),
     r"line 2 is not a trial record \(NaN is not a number JSON has"),
    (_lines(_record(0, val_accuracy=float("inf"))), r"line 1 .*Infinity is not a number"),
    (_lines(_record(0, val_accuracy=5.0)),
     r"line 1 .*'val_accuracy' must be null or a number in \[0, 1\], got 5.0"),
    (_lines(_record(0, val_accuracy="0.9")),
     r"line 1 .*'val_accuracy' must be null or a number in \[0, 1\], got \"0.9\""),
    (_lines(_record(0, status=3)), r"line 1 .*'status' must be one of 'ok', 'diverged'"),
    (_lines(_record(0, val_accuracy=None)), r"line 1 .*status 'ok' has a val_accuracy"),
    (_lines(_record(0, trial=True)), r"line 1 .*'trial' must be an integer"),
    (_lines(_record(0, config={"lr": [0.1]})), r"line 1 .*'config' must be"),
    (_lines(b'{"trial": 0, "trial": 1, "config": {}, "status": "failed"}'),
     r"line 1 .*the key 'trial' appears twice"),
    (_lines(_record(0), b'{"trial": 1, "config": {}, "status": "failed", "x": ' +
            b"[" * 100_000 + b"]" * 100_000 + b"}"), r"line 2 .*nest 100001 deep"),
    (_lines(json.dumps(_record(0)).replace('"val_accuracy": 0.8', '"val_accuracy": 1e999')
            .encode()), r"line 1 .*1e999 is too large for a float"),
])
def test_trials_file_is_checked_on_read_and_left_alone(tmp_path, content, why):
    path = tmp_path / "trials.jsonl"
    path.write_bytes(content)
    with pytest.raises(SweepFileError, match=why) as caught:
        read_trials(path)
    assert str(path) in str(caught.value) and "Delete that line" in str(caught.value)
    with pytest.raises(SweepFileError, match=why):  # a resume is refused before it runs
        run_sweep([{"iters": 5}], "blobs", workers=0, out=tmp_path, resume=True)
    assert path.read_bytes() == content


def test_a_huge_line_is_refused_after_reading_a_megabyte(tmp_path):
    import tracemalloc

    from tinygrad_lc.sweep.limits import MAX_LINE

    path = tmp_path / "trials.jsonl"
    path.write_bytes(_lines(_record(0)))
    with open(path, "r+b") as f:  # then 150 MB without a newline (sparse: cheap to make)
        f.truncate(150_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SweepFileError, match=f"line 2 .*longer than {MAX_LINE:,} bytes"):
            read_trials(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_LINE, peak


def test_the_writer_keeps_to_the_readers_rules(tmp_path):
    path = tmp_path / "trials.jsonl"
    with TrialLog(path) as log:
        with pytest.raises(ValueError, match="'val_accuracy' must be null or a number"):
            log.append(_record(0, val_accuracy=5.0))
        with pytest.raises(ValueError, match="'status' must be one of"):
            log.append(_record(0, status="done"))
        log.append(_record(0, error="x" * 5_000_000, warnings=["w" * 10_000] * 1000))
    assert path.stat().st_size < 100_000
    (record,) = read_trials(path)
    assert record["error"].startswith("x" * 10_000) and len(record["warnings"]) == 20


def test_a_recorded_best_is_the_best_of_checked_trials(tmp_path):
    path = tmp_path / "trials.jsonl"
    path.write_bytes(_lines(_record(0, val_accuracy=0.5), _record(1, status="diverged",
                                                                   val_accuracy=None,
                                                                   train_accuracy=None),
                            _record(2, val_accuracy=0.7)))
    result = sweep.SweepResult(read_trials(path), "blobs")
    assert result.best["trial"] == 2 and "diverged" in result.table()


# ---------------------------------------------------------------------- one writer per folder
def test_a_folder_another_sweep_writes_to_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")  # POSIX

    out = tmp_path / "s"
    run_sweep([{"iters": 5}], "blobs", workers=0, out=out)
    before = (out / "trials.jsonl").read_bytes()
    # another holder's lock on the folder, as a running sweep holds it (a flock belongs to
    # its open file, so a second open of the file in this process is another holder)
    other = os.open(out / ".sweep.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        for resume in (True, False):
            with pytest.raises(SweepFileError, match="another sweep is writing to"):
                run_sweep([{"iters": 5}] * 2, "blobs", workers=0, out=out, resume=resume)
    finally:
        os.close(other)
    assert (out / "trials.jsonl").read_bytes() == before
    again = run_sweep([{"iters": 5}] * 2, "blobs", workers=0, out=out, resume=True)
    assert [t["trial"] for t in again.trials] == [0, 1]  # free again once it let go


# ---------------------------------------------------------------------- what train refuses
@pytest.mark.parametrize("config, message", [
    ({"lr": math.nan}, "lr must be > 0 and finite, got nan"),
    ({"momentum": -0.5}, r"momentum must be in \[0, 1\), got -0.5"),
    ({"lr_decay": 0}, "lr_decay must be > 0 and finite, got 0"),
    ({"batch_size": 100_000}, "batch_size 100000 is more than the 420 training examples"),
    ({"optimizer": "adam"}, "optimizer adam needs model mlp"),
    ({"hidden": (10,)}, "hidden needs model mlp"),
    ({"loss": "hinge"}, "loss must be one of svm, softmax, got 'hinge'"),
    ({"model": "mlp", "hidden": (10**12,)}, "a layer of 1,000,000,000,000 units"),
])
def test_run_sweep_refuses_what_train_refuses_before_any_trial(tmp_path, config, message):
    with pytest.raises(SweepError, match=message):
        run_sweep([{"iters": 5}, config], "blobs", workers=0, out=tmp_path / "s")
    assert not (tmp_path / "s" / "trials.jsonl").exists() or \
        (tmp_path / "s" / "trials.jsonl").read_text() == ""


@pytest.mark.parametrize("space, message", [
    ({"momentum": Uniform(0.5, 1.5)}, r"momentum must be in \[0, 1\), got 1.5"),
    ({"model": Choice(["linear", "mlp"]), "optimizer": "adam"}, "adam needs model mlp"),
    ({"batch_size": LogUniform(10, 1000)}, "batch_size 1000 is more than the 420"),
])
def test_search_refuses_a_range_whose_ends_train_refuses(tmp_path, space, message):
    with pytest.raises(SweepError, match=message):
        search({"iters": 5, **space}, "blobs", trials=2, workers=0, out=tmp_path / "s")
    assert not (tmp_path / "s" / "trials.jsonl").exists()


def test_finer_rounds_stop_where_train_would_refuse():
    space = sweep_run.clip_space(narrow({"momentum": Uniform(0.5, 0.99)}, {"momentum": 0.98}),
                                 {"momentum": 0.98}, "blobs")
    assert space["momentum"].low == pytest.approx(0.8575) and 0.999 < space["momentum"].high < 1
    sweep_run.check_config("blobs", {"momentum": space["momentum"].high})
    space = sweep_run.clip_space(narrow({"batch_size": LogUniform(10, 400)}, {"batch_size": 400}),
                                 {"batch_size": 400}, "blobs")
    assert round(space["batch_size"].high) == 420 and space["batch_size"].low < 400


# ---------------------------------------------------------------------- sizes
@pytest.mark.parametrize("call, message", [
    (lambda: sample({"lr": LogUniform(1e-3, 1)}, 10**11), "n must be at most 100,000"),
    (lambda: grid({"lr": LogUniform(1e-3, 1), "reg": LogUniform(1e-3, 1),
                   "momentum": Uniform(0, 0.9)}, 10**11), "k must be at most 100,000"),
    (lambda: grid({"lr": LogUniform(1e-3, 1), "reg": LogUniform(1e-3, 1),
                   "momentum": Uniform(0, 0.9)}, 1000),
     "makes 1,000,000,000 configurations; at most 100,000"),
    (lambda: search(SPACE, "blobs", trials=10**11, workers=0),
     "trials 100,000,000,000 in 1 round"),
    (lambda: search(SPACE, "blobs", trials=60_000, refine=1, workers=0),
     "makes 120,000 trials; a sweep runs at most 100,000"),
    (lambda: search(SPACE, "blobs", grid_k=100_000, workers=0),
     r"grid_k 100,000 \(10,000,000,000 combinations\)"),
    (lambda: search(SPACE, "blobs", trials=2, refine=10**9, workers=0),
     "refine must be at most 20"),
    (lambda: run_sweep([{"iters": 5}], "blobs", workers=10**20),
     "workers must be an integer from 0 .* to 1024"),
])
def test_absurd_sizes_are_refused_before_anything_is_allocated(call, message):
    with pytest.raises(ValueError, match=message):
        call()
