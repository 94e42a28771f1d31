"""Tests for tinygrad_lc.util.checkpoint: round trips, atomic saves, clear errors on bad files."""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tracemalloc
import zipfile
from collections import Counter

import numpy as np
import pytest
from numpy.lib import format as npy_format

from tinygrad_lc.util import checkpoint
from tinygrad_lc.util.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


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


def entries(path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return sorted(name.removesuffix(".npy") for name in z.namelist())


def test_entries_are_named_after_where_the_arrays_sit(tmp_path):
    path = save_checkpoint(tmp_path / "run.npz", _state())
    assert entries(path) == ["W", "__meta__", "b", "history", "labels", "optimizer/velocity/0"]
    with np.load(path, allow_pickle=False) as npz:  # readable with numpy alone
        np.testing.assert_array_equal(npz["optimizer/velocity/0"], np.ones((5, 3)))


def test_a_training_checkpoint_reads_as_model_and_optimizer(tmp_path):
    from tinygrad_lc.models.training import TrainConfig, Trainer, load_dataset

    data = load_dataset("blobs")
    trainer = Trainer(TrainConfig.for_dataset("blobs", iters=3, momentum=0.9),
                      data.num_features, data.num_classes)
    trainer.train(data.X_train, data.y_train, progress=False)
    path = trainer.save(tmp_path / "run.npz")
    assert {"model/W", "model/optimizer/velocity/0", "loss_history"} <= set(entries(path))
    assert not any(name.startswith("a") and name[1:].isdigit() for name in entries(path))


def test_odd_keys_give_safe_unique_entry_names(tmp_path):
    x = np.arange(3.0)
    state = {"../up": x, "a/b": x + 1, "a": {"b": x + 2}, "": x + 3, ".": x + 4,
             "__meta__": x + 5, (0, 1): x + 6, "ü": [x + 7]}
    path = save_checkpoint(tmp_path / "odd.npz", state)
    names = entries(path)
    assert len(names) == len(set(names)) == len(state) + 1
    for name in names:
        assert all(part not in ("", ".", "..") for part in name.split("/")), name
    back = load_checkpoint(path)
    got = [back["../up"], back["a/b"], back["a"]["b"], back[""], back["."], back["__meta__"],
           back[(0, 1)], back["ü"][0]]
    for k, array in enumerate(got):
        np.testing.assert_array_equal(array, x + k)


def test_a_checkpoint_from_before_entry_names_still_loads(tmp_path):
    """Files written by earlier versions numbered their entries a0, a1, ..."""
    meta = {"format": "tinygrad_lc.checkpoint", "version": 1,
            "state": {"step": 5, "model": {"W": {"__array__": "a0"}},
                      "optim": {"velocity": [{"__array__": "a1"}, None]}}}
    path = tmp_path / "old.npz"
    np.savez(path, __meta__=np.array(json.dumps(meta)), a0=np.eye(2), a1=np.full(2, 0.5))
    back = load_checkpoint(path)
    assert back["step"] == 5
    np.testing.assert_array_equal(back["model"]["W"], np.eye(2))
    np.testing.assert_array_equal(back["optim"]["velocity"][0], [0.5, 0.5])


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
    assert path.stat().st_mode & 0o777 == 0o644  # not a private 0o600 temp file
    path.chmod(0o640)
    save_checkpoint(path, {"step": 2})
    assert path.stat().st_mode & 0o777 == 0o640  # overwriting keeps the file's own mode


# ----------------------------------------------------------------------------- hostile files


def _npy(header: dict, data: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """An .npy member with a hand-written header, followed by ``data``."""
    buf = io.BytesIO()
    write = {(1, 0): npy_format.write_array_header_1_0,
             (2, 0): npy_format.write_array_header_2_0}[version]
    write(buf, header)
    return buf.getvalue() + data


def _npz(path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return path


_META_A0 = json.dumps({"format": "tinygrad_lc.checkpoint", "version": 1,
                       "state": {"W": {"__array__": "a0"}}})


def _meta_npy(meta: str = _META_A0) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array(meta))
    return buf.getvalue()


@pytest.mark.parametrize("shape, data", [
    ((10**15,), b"\0" * 8),  # the 814-byte file of issue 10: 8 PB claimed
    ((10**6, 10**6), b""),
    ((2**62, 4), b"\0" * 16),  # more than fits in int64: no overflow in the check
    ((3,), b"\0" * 16),  # 24 bytes claimed, 16 held
    ((1,), b"\0" * 16),  # fewer bytes claimed than held
])
def test_header_must_claim_exactly_the_bytes_it_holds(tmp_path, shape, data):
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    path = _npz(tmp_path / "huge.npz", {"__meta__.npy": _meta_npy(), "a0.npy": _npy(header, data)})
    tracemalloc.start()
    try:
        error = _expect(path, r"member 'a0\.npy' claims an array of shape .* float64 \(([\d,]+) "
                        rf"bytes\) but holds {len(data)} bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # refused before allocation
    assert f"{math.prod(shape) * 8:,}" in str(error)


def test_deflate_bomb_claim_is_refused_before_reading(tmp_path):
    # 10 kB of zeros compress to a few dozen bytes; header and zip directory both say 4 GB
    claimed = 0xFFFF0000
    header = _npy({"descr": "|u1", "fortran_order": False, "shape": (claimed,)}, b"")
    path = _npz(tmp_path / "bomb.npz", {"__meta__.npy": _meta_npy(),
                                         "a0.npy": header + bytes(10_000)},
                method=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        stored = z.getinfo("a0.npy").compress_size
    central = [i for i in range(len(data)) if data[i:i + 4] == b"PK\x01\x02"][1]
    struct.pack_into("<I", data, central + 24, len(header) + claimed)  # uncompressed size
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        _expect(path, rf"'a0\.npy' claims {len(header) + claimed:,} bytes from {stored:,} stored "
                "bytes, more than its compression method can give")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # refused before allocation


@pytest.mark.parametrize("where", ["central", "both"])
def test_unknown_compression_method(tmp_path, where):
    path = save_checkpoint(tmp_path / "run.npz", {"W": np.arange(10.0)})
    data = bytearray(path.read_bytes())
    for offset, kind in ((10, b"PK\x01\x02"), (8, b"PK\x03\x04")):  # method field per header
        if kind == b"PK\x03\x04" and where == "central":
            continue
        start = 0
        while (start := data.find(kind, start)) >= 0:
            data[start + offset] = 99
            start += 4
    path.write_bytes(bytes(data))
    _expect(path, r"uses zip compression method 99; checkpoints use none \(np\.savez\) or "
            r"DEFLATE \(np\.savez_compressed\)")


def test_every_flipped_byte_of_a_compressed_checkpoint(tmp_path):
    path = tmp_path / "z.npz"
    meta = json.dumps({"format": "tinygrad_lc.checkpoint", "version": 1,
                       "state": {"W": {"__array__": "a0"}}})
    np.savez_compressed(path, __meta__=np.array(meta), a0=np.arange(50.0))
    good = path.read_bytes()
    outcomes = Counter()
    for i in range(len(good)):  # a few hundred positions: zlib, CRC, header and size errors
        data = bytearray(good)
        data[i] ^= 0xFF
        with open(path, "r+b") as f:  # same length: no truncation, which is slow on some disks
            f.write(data)
        try:
            load_checkpoint(path)
            outcomes["loaded"] += 1  # e.g. a timestamp byte: nothing the checksums guard
        except CheckpointError as exc:
            assert str(path) in str(exc)
            outcomes[type(exc.__cause__).__name__] += 1
    assert outcomes["error"] > 0  # zlib.error is among the causes, wrapped


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_description(tmp_path, depth):
    meta = ('{"format": "tinygrad_lc.checkpoint", "version": 1, "state": {"x": '
            + "[" * depth + "]" * depth + "}}")
    np.savez(tmp_path / "deep.npz", __meta__=np.array(meta))
    _expect(tmp_path / "deep.npz", rf"nests {depth + 2:,} levels deep; a checkpoint's "
            "description nests at most 160")


def test_save_refuses_a_state_that_load_would_refuse(tmp_path):
    state: dict = {"x": 1}
    for _ in range(50):
        state = {"a": [state]}
    with pytest.raises(ValueError, match="nests deeper than 50 levels"):
        save_checkpoint(tmp_path / "deep.npz", state)
    assert _files(tmp_path) == []
    shallow: dict = {"x": 1}
    for _ in range(49):
        shallow = {(1, 2): shallow}  # the most JSON levels per state level: pairs
    assert load_checkpoint(save_checkpoint(tmp_path / "ok.npz", shallow)) is not None


@pytest.mark.parametrize("members, pattern", [
    ({"__meta__.npy": _meta_npy(), "a0": b"raw bytes"}, r"member 'a0' is not an \.npy array"),
    ({"__meta__.npy": _meta_npy(), "a0.npy": b"\x93NUMPY\x01"}, "truncated or corrupt"),
    ({"__meta__.npy": _meta_npy(), "a0.npy": _npy({"descr": "|O", "fortran_order": False,
                                                   "shape": (1,)}, b"\0" * 8)},
     "pickled objects"),
    ({"__meta__.npy": _meta_npy(np.zeros(3)), "a0.npy": _meta_npy()}, "not the JSON description"),
    ({"__meta__.npy": _meta_npy('{"format": 1' + "0" * 5000 + "}")}, "Exceeds the limit"),
], ids=["not-npy", "short-header", "object-dtype", "meta-not-a-string", "huge-int"])
def test_other_crafted_members(tmp_path, members, pattern):
    _expect(_npz(tmp_path / "c.npz", members), pattern)
