"""Fuzz tests of the two loaders that read files a user may have been handed: checkpoints
(tinygrad_lc/checkpoint.py) and CIFAR-10 batches (tinygrad_lc/cifar10.py).

The property, for every generated file: it loads, or it raises the loader's own error
(``CheckpointError``; ``ValueError`` for a batch, refusals included) naming the
file. Never another exception, and never much more memory than the file's size (measured with
tracemalloc, which numpy reports its allocations to). Examples are bounded by the Hypothesis
profile (``dev``: 25 per test, ``ci``: 100).
"""

from __future__ import annotations

import codecs
import io
import json
import operator
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from numpy.lib import format as npy_format

from tinygrad_lc.data import cifar10
from tinygrad_lc.util.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore")  # zipfile warns about duplicate names

_MEMORY = 8_000_000  # every generated file is a few kB; a size claim it cannot back is GBs
_shared = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


class _Peak:
    """Largest traced allocation total inside the block (numpy reports to tracemalloc)."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return False


# ----------------------------------------------------------------------------- checkpoints

_META = {"format": "tinygrad_lc.checkpoint", "version": 1}


def _good_state() -> dict:
    rng = np.random.default_rng(0)
    return {"step": 3, "W": rng.standard_normal((4, 3)), "b": np.zeros(3, np.float32),
            "rng": rng.bit_generator.state, "history": [1.5, 2.5], (1, 2): "pair key"}


@pytest.fixture(scope="module")
def good(folder) -> dict[bool, bytes]:
    """A checkpoint as save_checkpoint writes it (False) and recompressed (True)."""
    path = save_checkpoint(folder / "good.npz", _good_state())
    buf = io.BytesIO()
    with np.load(path) as npz:
        np.savez_compressed(buf, **{name: npz[name] for name in npz.files})
    return {False: path.read_bytes(), True: buf.getvalue()}


def _write(path, data: bytes) -> None:
    path.unlink(missing_ok=True)  # much faster than truncating on some disks
    path.write_bytes(data)


def _check_checkpoint(path, data: bytes) -> None:
    _write(path, data)
    with _Peak() as peak:
        try:
            state = load_checkpoint(path)
        except CheckpointError as exc:
            assert str(path) in str(exc)
            event(f"refused ({type(exc.__cause__).__name__ if exc.__cause__ else 'checks'})")
        else:
            assert isinstance(state, dict)
            event("loaded")
    assert peak.bytes < _MEMORY + 4 * len(data)


@_shared
@given(compressed=st.booleans(),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=4))
def test_checkpoint_bit_flips(folder, good, compressed, flips):
    data = bytearray(good[compressed])
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    _check_checkpoint(folder / "flipped.npz", bytes(data))


@_shared
@given(compressed=st.booleans(), keep=st.floats(0, 1, exclude_max=True),
       tail=st.binary(max_size=40))
def test_checkpoint_truncations(folder, good, compressed, keep, tail):
    data = good[compressed]
    _check_checkpoint(folder / "cut.npz", data[: int(keep * len(data))] + tail)


# (signature, offset of the field after it, struct format) of the zip header fields
_ZIP_FIELDS = [
    (b"PK\x03\x04", 4, "<H"), (b"PK\x03\x04", 6, "<H"), (b"PK\x03\x04", 8, "<H"),
    (b"PK\x03\x04", 18, "<I"), (b"PK\x03\x04", 22, "<I"), (b"PK\x03\x04", 26, "<H"),
    (b"PK\x03\x04", 28, "<H"),
    (b"PK\x01\x02", 8, "<H"), (b"PK\x01\x02", 10, "<H"), (b"PK\x01\x02", 16, "<I"),
    (b"PK\x01\x02", 20, "<I"), (b"PK\x01\x02", 24, "<I"), (b"PK\x01\x02", 28, "<H"),
    (b"PK\x01\x02", 30, "<H"), (b"PK\x01\x02", 42, "<I"),
    (b"PK\x05\x06", 8, "<H"), (b"PK\x05\x06", 10, "<H"), (b"PK\x05\x06", 12, "<I"),
    (b"PK\x05\x06", 16, "<I"), (b"PK\x05\x06", 20, "<H"),
]
_FIELD_VALUES = st.one_of(st.sampled_from([0, 1, 8, 9, 12, 14, 99, 0xFFFF, 0xFFFFFFFF]),
                          st.integers(0, 0xFFFFFFFF))


@_shared
@given(compressed=st.booleans(),
       edits=st.lists(st.tuples(st.sampled_from(_ZIP_FIELDS), st.integers(0, 8), _FIELD_VALUES),
                      min_size=1, max_size=3))
def test_checkpoint_crafted_zip_headers(folder, good, compressed, edits):
    data = bytearray(good[compressed])
    for (signature, offset, fmt), nth, value in edits:
        starts = [i for i in range(len(data) - 3) if data[i:i + 4] == signature]
        if starts:
            at = starts[nth % len(starts)] + offset
            struct.pack_into(fmt, data, at, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
    _check_checkpoint(folder / "zip.npz", bytes(data))


_DESCRS = ["<f8", "<f4", "|u1", "<i8", "|b1", "<c16", "|O", "|V0", "|V8", "|S0", "<U3", ">f8",
           "<f8x", "[('a', '<f8'), ('b', '|O')]", "[('a', '<f8', (3,))]", "bogus"]
_SIDES = st.one_of(st.integers(-2, 6), st.sampled_from([2**31, 2**40, 10**15, 2**63, 2**64]))


@st.composite
def _npy_members(draw) -> bytes:
    """An .npy member whose header claims what it likes, followed by some bytes."""
    data = draw(st.binary(max_size=96))
    if draw(st.booleans()):  # a well-formed header dict with any claims
        descr = draw(st.sampled_from(_DESCRS))
        try:
            descr = eval(descr) if descr.startswith("[") else descr  # noqa: S307 (our list)
        except SyntaxError:
            pass
        shape = tuple(draw(st.lists(_SIDES, max_size=3)))
        header = f"{{'descr': {descr!r}, 'fortran_order': {draw(st.booleans())}, " \
                 f"'shape': {shape!r}, }}"
    else:  # any text at all where the header goes
        header = draw(st.text(max_size=80))
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0)]))
    encoded = header.encode("latin1" if version != (3, 0) else "utf8", "replace") + b"\n"
    size = struct.pack("<H" if version == (1, 0) else "<I", len(encoded))
    return npy_format.magic(*version) + size + encoded + data


def _meta_member(text: str) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array(text))
    return buf.getvalue()


@_shared
@given(member=_npy_members(), compressed=st.booleans(), as_meta=st.booleans())
def test_checkpoint_crafted_npy_headers(folder, member, compressed, as_meta):
    meta = _meta_member(json.dumps({**_META, "state": {"W": {"__array__": "a0"}}}))
    members = {"__meta__.npy": member} if as_meta else {"__meta__.npy": meta, "a0.npy": member}
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    _check_checkpoint(folder / "npy.npz", buf.getvalue())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=20,
)


@st.composite
def _descriptions(draw) -> str:
    kind = draw(st.sampled_from(["deep", "json", "text", "tags"]))
    if kind == "deep":  # brackets nested up to 200,000 deep, closed or not
        depth = draw(st.integers(0, 200_000))
        opener = draw(st.sampled_from(["[", "{\"a\": ", "[\"]\", "]))
        closer = {"[": "]", "{\"a\": ": "}", "[\"]\", ": "]"}[opener]
        inner = opener * depth + "1" + closer * draw(st.sampled_from([depth, depth // 2]))
        return json.dumps({**_META, "state": {"x": 0}})[:-2] + ", \"y\": " + inner + "}}"
    if kind == "json":  # any JSON as the state, or as the whole description
        value = draw(_JSON)
        return json.dumps({**_META, "state": value} if draw(st.booleans()) else value)
    if kind == "tags":  # array and pair tags pointing anywhere
        tag = draw(st.sampled_from(["__array__", "__pairs__"]))
        return json.dumps({**_META, "state": {"x": {tag: draw(_JSON)}}})
    return draw(st.text(max_size=200))


@_shared
@given(description=_descriptions())
def test_checkpoint_crafted_descriptions(folder, description):
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array(description), a0=np.arange(3.0))
    _check_checkpoint(folder / "meta.npz", buf.getvalue())


# ----------------------------------------------------------------------------- CIFAR-10 batches

_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_BATCH_NAMES = [*cifar10._TRAIN_BATCHES, cifar10._TEST_BATCH]


class _Reduce:
    """Pickles as ``fn(*args)``, then ``__setstate__(state)`` when a state is given."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def _good_batch(rows: int = 2) -> dict:
    rng = np.random.default_rng(rows)
    return {b"batch_label": b"fuzz", b"labels": rng.integers(0, 10, rows).tolist(),
            b"data": rng.integers(0, 256, (rows, 3072), dtype=np.uint8),
            b"filenames": [b"img%d.png" % i for i in range(rows)]}


_FUNCTIONS = st.sampled_from([np.ndarray, np.dtype, _RECONSTRUCT, codecs.encode, operator.add])
_DTYPES = st.sampled_from([np.dtype(c) for c in ("u1", "i8", "f8", "V4", "O", ">u2")]
                          + [np.dtype([("a", "u1")]), np.dtype(("u1", (3,)))])
_SMALL = (st.integers(-2, 10) | st.sampled_from([3072, 2**31, 10**12, 2**64]) | st.booleans()
          | st.none() | st.binary(max_size=16) | st.text(max_size=8) | _DTYPES
          | st.sampled_from(["u1", "latin1", "utf-16", b"b", "|", "<"]))
_VALUES = st.recursive(
    _SMALL,
    lambda inner: (st.tuples(inner) | st.tuples(inner, inner) | st.tuples(inner, inner, inner)
                   | st.lists(inner, max_size=5)
                   | st.builds(_Reduce, _FUNCTIONS, st.tuples() | st.tuples(inner)
                               | st.tuples(inner, inner) | st.tuples(inner, inner, inner),
                               st.none() | inner)),
    max_leaves=12,
)


@st.composite
def _array_claims(draw):
    """numpy's own pickle of an array, with any shape, dtype and data, data shared or not."""
    shape = tuple(draw(st.lists(st.integers(0, 10**7) | st.sampled_from([3072, 2**40]),
                                max_size=3)))
    raw = draw(st.binary(max_size=3 * 3072))
    state = (1, shape, draw(_DTYPES), draw(st.booleans()), raw)
    return [_Reduce(_RECONSTRUCT, (np.ndarray, (0,), b"b"), state)
            for _ in range(draw(st.integers(1, 40)))]


@st.composite
def _batches(draw) -> bytes:
    kind = draw(st.sampled_from(["reduce", "claims", "flips", "cut"]))
    batch = _good_batch(draw(st.integers(0, 3)))
    if kind == "reduce":  # any call of the allowed (and one refused) global, anywhere
        key = draw(st.sampled_from([b"data", b"labels", b"filenames"]))
        batch[key] = draw(_VALUES)
    elif kind == "claims":  # arrays claiming sizes, reusing one data string many times
        claims = draw(_array_claims())
        batch[b"data"], batch[b"filenames"] = claims[0], claims[1:]
    data = pickle.dumps(batch, protocol=draw(st.integers(0, 5)))
    if kind == "flips":
        flipped = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            flipped[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        data = bytes(flipped)
    elif kind == "cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


@pytest.fixture(scope="module")
def cifar_root(folder):
    root = folder / "cifar"
    (root / cifar10.CIFAR10_FOLDER).mkdir(parents=True)
    for name in _BATCH_NAMES[1:]:
        (root / cifar10.CIFAR10_FOLDER / name).write_bytes(pickle.dumps(_good_batch(), 2))
    return root


@_shared
@given(batch=_batches())
def test_cifar_batches(cifar_root, batch):
    path = cifar_root / cifar10.CIFAR10_FOLDER / _BATCH_NAMES[0]
    _write(path, batch)
    with _Peak() as peak:
        try:
            X_train, y_train, X_test, y_test = cifar10.load_cifar10(cifar_root, download=False)
        except ValueError as exc:  # UnsafeBatchError is a ValueError too
            assert str(path) in str(exc)
            event(f"refused ({type(exc.__cause__ or exc).__name__})")
        else:
            event("loaded")
            assert X_train.shape[1:] == (32, 32, 3) and X_train.dtype == np.uint8
            assert y_train.shape == X_train.shape[:1] and y_train.dtype == np.int64
            assert X_train.nbytes <= len(batch) + 4 * 3072 * 2  # the other batches: 2 rows each
    assert peak.bytes < _MEMORY + 4 * len(batch)
