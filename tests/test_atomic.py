"""Tests of tinygrad_lc/atomic.py: all-or-nothing writes with the usual file mode."""

from __future__ import annotations

import os

import pytest

from tinygrad_lc.atomic import atomic_open, atomic_write


def test_write_text_and_bytes_creating_folders(tmp_path):
    path = atomic_write(tmp_path / "a" / "b.json", "{}\n")
    assert path.read_text() == "{}\n"
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(path.parent) == ["b.json"]


@pytest.mark.parametrize("error", [OSError("disk full (simulated)"), KeyboardInterrupt()])
def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path, error):
    path = atomic_write(tmp_path / "m.json", "old")
    with pytest.raises(type(error)):
        with atomic_open(path) as f:
            f.write(b"half of the new")
            raise error
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["m.json"]


def test_failed_replace_keeps_the_old_file(tmp_path, monkeypatch):
    path = atomic_write(tmp_path / "m.json", "old")

    def no_replace(src, dst):
        raise OSError("simulated")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="simulated"):
        atomic_write(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["m.json"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_0o666_less_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "m.json", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_overwriting_keeps_the_mode(tmp_path):
    path = atomic_write(tmp_path / "m.json", "x")
    path.chmod(0o600)
    atomic_write(path, "y")
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "y"
