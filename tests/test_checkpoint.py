"""Tests for tinygrad_lc.checkpoint: round trips, atomic saves, and clear errors on bad files."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from tinygrad_lc import checkpoint
from tinygrad_lc.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _state(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rng.standard_normal(7)  # move the generator off its seed state
    return {
        "step": 17,
        "W": rng.standard_normal((5, 3)),
        "b": np.zeros(3, dtype=np.float32),
        "optimizer": {"lr": 1e-3, "momentum": 0.9, "velocity": [np.ones((5, 3)), None],
                      3: "int key"},
        "rng": rng.bit_generator.state,  # holds 128-bit Python ints
        "config": {"dataset": "digits", "loss": "svm", "reg": 0.5, "quiet": True},
        "history": np.arange(4.0),
        "labels": np.array([1, 2], dtype=np.int64),
    }


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_is_exact(tmp_path):
    state = _state()
    path = save_checkpoint(tmp_path / "run.npz", state)
    back = load_checkpoint(path)
    assert set(back) == set(state)
    for key in ("W", "b", "history", "labels"):
        assert back[key].dtype == state[key].dtype
        np.testing.assert_array_equal(back[key], state[key])
    assert back["rng"] == state["rng"]
    assert back["config"] == state["config"] and back["step"] == 17
    np.testing.assert_array_equal(back["optimizer"]["velocity"][0], np.ones((5, 3)))
    assert back["optimizer"]["velocity"][1] is None and back["optimizer"][3] == "int key"


def test_restored_generator_continues_identically(tmp_path):
    rng = np.random.default_rng(42)
    rng.integers(0, 10, 100)
    path = save_checkpoint(tmp_path / "r.npz", {"rng": rng.bit_generator.state})
    expected = rng.integers(0, 1000, 50)
    other = np.random.default_rng()
    other.bit_generator.state = load_checkpoint(path)["rng"]
    np.testing.assert_array_equal(other.integers(0, 1000, 50), expected)


def test_file_is_plain_npz_without_pickles(tmp_path):
    path = save_checkpoint(tmp_path / "run.npz", _state())
    with np.load(path, allow_pickle=False) as npz:  # would raise on any object array
        meta = json.loads(str(npz["__meta__"][()]))
        assert all(npz[name].dtype != object for name in npz.files)
    assert meta["format"] == "tinygrad_lc.checkpoint" and meta["version"] == 1


def test_save_creates_folders_and_keeps_the_name(tmp_path):
    path = save_checkpoint(tmp_path / "a" / "b" / "ckpt", {"x": 1})
    assert path == tmp_path / "a" / "b" / "ckpt" and path.is_file()
    assert load_checkpoint(path) == {"x": 1}


def test_save_refuses_what_would_need_pickle(tmp_path):
    with pytest.raises(TypeError, match=r"state\['f'\] is a function"):
        save_checkpoint(tmp_path / "c.npz", {"f": lambda: 0})
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint(tmp_path / "c.npz", {"a": np.array([{}], dtype=object)})
    with pytest.raises(TypeError, match="expected a dict state"):
        save_checkpoint(tmp_path / "c.npz", [1, 2])
    assert _files(tmp_path) == []


@pytest.mark.parametrize("where", ["_write_npz", "fsync", "replace"])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, where):
    path = save_checkpoint(tmp_path / "run.npz", {"step": 1, "W": np.ones(4)})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        if where == "_write_npz":  # half an archive reaches the disk before the crash
            args[0].write(b"PK\x03\x04 partial")
        raise OSError("disk full (simulated)")

    target = {"_write_npz": (checkpoint, "_write_npz"), "fsync": (os, "fsync"),
              "replace": (os, "replace")}[where]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, {"step": 2, "W": np.zeros(4)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)["step"] == 1
    assert _files(tmp_path) == ["run.npz"]  # no temporary file left behind


def test_interrupt_during_save_cleans_up(tmp_path, monkeypatch):
    def interrupt(f, arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "_write_npz", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "run.npz", {"step": 2})
    assert _files(tmp_path) == []


def _expect(path, pattern):
    with pytest.raises(CheckpointError, match=pattern) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)  # every message names the file
    return info.value


def test_missing_empty_and_folder(tmp_path):
    _expect(tmp_path / "nope.npz", "does not exist")
    (tmp_path / "empty.npz").write_bytes(b"")
    _expect(tmp_path / "empty.npz", r"is empty \(0 bytes\)")
    _expect(tmp_path, "is not a file")


def test_text_file(tmp_path):
    (tmp_path / "notes.npz").write_text("step = 100\n")
    _expect(tmp_path / "notes.npz", r"not an \.npz archive .*b'step ")


def test_single_npy_array(tmp_path):
    np.save(tmp_path / "w.npy", np.ones(3))
    _expect(tmp_path / "w.npy", r"single \.npy array")


def test_foreign_npz_lists_its_entries(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.ones(2), bias=np.zeros(1))
    _expect(tmp_path / "other.npz", r"without the '__meta__' entry \(it holds: bias, weights\)")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", __meta__=np.array([{"a": 1}], dtype=object))
    _expect(tmp_path / "evil.npz", "pickled objects")


@pytest.mark.parametrize("meta, pattern", [
    ("{not json", "not the JSON description"),
    ('{"format": "something.else", "version": 1, "state": {}}', "format is 'something.else'"),
    ('{"format": "tinygrad_lc.checkpoint", "version": 99, "state": {}}', "version 99"),
    ('{"format": "tinygrad_lc.checkpoint", "version": 1, "state": {"W": {"__array__": "a0"}}}',
     "array 'a0' that is not in the file"),
    ('{"format": "tinygrad_lc.checkpoint", "version": 1, "state": [1]}', "not a dict"),
    ('[1, 2]', "not a JSON object"),
])
def test_bad_description(tmp_path, meta, pattern):
    np.savez(tmp_path / "bad.npz", __meta__=np.array(meta))
    _expect(tmp_path / "bad.npz", pattern)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, keep):
    path = save_checkpoint(tmp_path / "run.npz", _state())
    data = path.read_bytes()
    path.write_bytes(data[: max(4, int(len(data) * keep))])
    _expect(path, "truncated or corrupt")


def test_flipped_byte_is_caught_by_the_zip_checksum(tmp_path):
    path = save_checkpoint(tmp_path / "run.npz", {"W": np.arange(1000.0)})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:  # flip a byte inside the stored W array
        info = next(i for i in z.infolist() if i.filename != "__meta__.npy")
    data[info.header_offset + 30 + len(info.filename) + 500] ^= 0xFF
    path.write_bytes(bytes(data))
    _expect(path, "CRC")


def test_saved_file_gets_the_mode_of_a_normal_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "run.npz", {"step": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # mkstemp's 0o600 would hide it from others
    path.chmod(0o640)
    save_checkpoint(path, {"step": 2})
    assert path.stat().st_mode & 0o777 == 0o640  # overwriting keeps the file's own mode
