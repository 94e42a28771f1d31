"""Durability of every write path, checked the way the checkpoint's tests do it: ``os.fsync``
and ``os.replace`` are recorded, with what each file descriptor points at, and their order is
checked (the file's data, then the rename, then the folder that holds the new name). A record
cut at any byte leaves a trial log that reads back, and an overwrite keeps the file's mode."""

from __future__ import annotations

import json
import os
import stat
import warnings
from pathlib import Path

import pytest

from tinygrad_lc.sweep.log import TrialLog, read_trials
from tinygrad_lc.util.atomic import atomic_write


@pytest.fixture
def syscalls(monkeypatch):
    """The fsync and replace calls made, in order: ("fsync", path) and ("replace", src, dst)."""
    calls: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, **kw):
        calls.append(("replace", str(src), str(dst)))
        return real_replace(src, dst, **kw)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name what a file descriptor points at")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_an_atomic_write_syncs_the_data_then_renames_then_syncs_the_folder(tmp_path, syscalls):
    target = tmp_path / "out" / "metrics.json"
    atomic_write(target, "{}\n")
    assert [c[0] for c in syscalls] == ["fsync", "replace", "fsync"], syscalls
    (_, synced), (_, src, dst), (_, folder) = syscalls
    assert synced == src != dst == str(target)  # the temporary file's data, before the rename
    assert folder == str(target.parent)  # then the folder, which holds the new name
    assert target.read_text() == "{}\n"


def test_each_trial_record_is_synced_before_append_returns(tmp_path, syscalls):
    path = tmp_path / "sweep" / "trials.jsonl"
    with TrialLog(path) as log:
        first_open = list(syscalls)
        log.append(_record(0))
        after_one = list(syscalls)
        log.append(_record(1))
    # the new file's name is made durable in its folder as the log is created
    assert ("fsync", str(path.parent)) in first_open
    assert after_one[len(first_open):] == [("fsync", str(path))]
    assert syscalls[len(after_one):] == [("fsync", str(path))]


def test_reopening_an_existing_log_does_not_sync_the_folder_again(tmp_path, syscalls):
    path = tmp_path / "trials.jsonl"
    TrialLog(path).close()
    syscalls.clear()
    TrialLog(path).close()
    assert syscalls == []


def _record(k: int) -> dict:
    """A whole trial record, as the sweep writes it (the log checks what it writes)."""
    return {"trial": k, "config": {"lr": 10.0 ** -k}, "status": "ok", "train_accuracy": 0.5,
            "val_accuracy": 0.5}


def _log_of(path: Path, n: int) -> bytes:
    with TrialLog(path) as log:
        for k in range(n):
            log.append(_record(k))
    return path.read_bytes()


def test_a_record_cut_at_any_byte_reads_back_as_the_records_before_it(tmp_path):
    whole = _log_of(tmp_path / "whole.jsonl", 3)
    start_of_last = whole.rstrip(b"\n").rfind(b"\n") + 1
    path = tmp_path / "trials.jsonl"
    for cut in range(start_of_last, len(whole) + 1):  # Ctrl-C or a crash after `cut` bytes
        path.write_bytes(whole[:cut])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trials = read_trials(path, repair=True)
        complete = cut == len(whole) or cut == start_of_last
        assert [t["trial"] for t in trials] == ([0, 1, 2] if cut == len(whole) else [0, 1])
        assert bool(caught) == (not complete), cut  # a cut line is said, never silent
        # repaired: the file ends where the last whole record ends, and appending goes on
        assert path.read_bytes() == (whole if cut == len(whole) else whole[:start_of_last])
        with TrialLog(path) as log:
            log.append(_record(2))
        assert [json.loads(line)["trial"] for line in path.read_text().splitlines()] == \
            ([0, 1, 2, 2] if cut == len(whole) else [0, 1, 2])


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o664, 0o700, 0o755, 0o775])
def test_an_atomic_overwrite_keeps_the_files_mode(tmp_path, mode):
    target = tmp_path / "report.html"
    target.write_text("old")
    os.chmod(target, mode)
    atomic_write(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.read_text() == "new"
