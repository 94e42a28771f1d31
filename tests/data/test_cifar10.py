"""Tests for tinygrad_lc/cifar10.py: a tiny CIFAR-10 archive in the real format, built here."""

from __future__ import annotations

import builtins
import codecs
import hashlib
import http.server
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lc import data
from tinygrad_lc.data import cifar10

FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_SIZES = (4, 4, 4, 4, 4)
TEST_SIZE = 3


# ----------------------------------------------------------------------------- tiny archive


def _py2_batch_pickle(rows: np.ndarray, labels: list[int]) -> bytes:
    """A protocol-2 pickle as Python 2 wrote the real batches: str opcodes and numpy.core names."""

    def s(b: bytes) -> bytes:  # SHORT_BINSTRING or BINSTRING: a Python 2 str
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b

    def i(v: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", v)

    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + i(0) + b"\x85" + s(b"b")
        + b"\x87R(" + i(1) + i(rows.shape[0]) + i(rows.shape[1]) + b"\x86"
        + b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R("
        + i(3) + s(b"|") + b"NNN" + i(-1) + i(-1) + i(0) + b"tb"
        + b"\x89" + s(rows.tobytes()) + b"tb"
    )
    items = b"(" + b"".join(i(v) for v in labels) + b"e" if labels else b""
    return (
        b"\x80\x02}(" + s(b"batch_label") + s(b"tiny") + s(b"labels") + b"]" + items
        + s(b"data") + array + s(b"filenames") + b"]" + b"u."
    )


def _py3_batch_pickle(rows: np.ndarray, labels: list[int]) -> bytes:
    batch = {b"batch_label": b"tiny", b"labels": labels, b"data": rows,
             b"filenames": [b"img%d.png" % k for k in range(len(labels))]}
    return pickle.dumps(batch, protocol=2)


def _make_batches(seed: int = 0) -> tuple[dict[str, bytes], np.ndarray, np.ndarray, np.ndarray,
                                          np.ndarray]:
    """Return {batch name: pickle bytes} and the expected X_train, y_train, X_test, y_test."""
    rng = np.random.default_rng(seed)
    files, images, labels = {}, [], []
    for k, n in enumerate((*TRAIN_SIZES, TEST_SIZE)):
        rows = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        if k == 0:  # first image: R plane all 255, G plane 0, B plane counts in row-major order
            rows[0, :1024], rows[0, 1024:2048] = 255, 0
            rows[0, 2048:] = np.arange(1024) % 256
        labs = rng.integers(0, 10, size=n).tolist()
        name = f"data_batch_{k + 1}" if k < 5 else "test_batch"
        # Train batches in Python 2's byte layout, the test batch as Python 3 writes protocol 2.
        files[name] = (_py2_batch_pickle if k < 5 else _py3_batch_pickle)(rows, labs)
        images.append(rows.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.array(labs))
    return (files, np.concatenate(images[:5]), np.concatenate(labels[:5]), images[5],
            labels[5])


def _tar_bytes(files: dict[str, bytes], extra: list[tuple[tarfile.TarInfo, bytes]] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        folder = tarfile.TarInfo(FOLDER)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, payload in files.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for info, payload in extra:
            tar.addfile(info, io.BytesIO(payload) if payload else None)
    return buf.getvalue()


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


@pytest.fixture
def tiny():
    files, *expected = _make_batches()
    return files, _tar_bytes(files), expected


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


def _write_folder(root: Path, files: dict[str, bytes]) -> None:
    (root / FOLDER).mkdir()
    for name, payload in files.items():
        (root / FOLDER / name).write_bytes(payload)


def _check_arrays(got, expected) -> None:
    X_train, y_train, X_test, y_test = got
    assert X_train.shape == (20, 32, 32, 3) and X_test.shape == (3, 32, 32, 3)
    assert X_train.dtype == np.uint8 and X_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert y_train.shape == (20,) and y_test.shape == (3,)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- loading


def test_load_from_extracted_folder(tiny, root, monkeypatch):
    files, _, expected = tiny
    _write_folder(root, files)
    monkeypatch.setattr(cifar10, "_download", lambda archive: pytest.fail("must not download"))
    _check_arrays(cifar10.load_cifar10(root, download=False), expected)


def test_pixel_layout_is_channels_last(tiny, root):
    files, _, _ = tiny
    _write_folder(root, files)
    X = cifar10.load_cifar10(str(root))[0]
    assert (X[0, :, :, 0] == 255).all()
    assert (X[0, :, :, 1] == 0).all()
    np.testing.assert_array_equal(X[0, :, :, 2], (np.arange(1024) % 256).reshape(32, 32))
    assert X.flags.c_contiguous


def test_load_from_archive(tiny, root, monkeypatch):
    _, archive, expected = tiny
    (root / ARCHIVE).write_bytes(archive)
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    monkeypatch.setattr(cifar10, "_download", lambda archive: pytest.fail("must not download"))
    _check_arrays(cifar10.load_cifar10(root, download=False), expected)
    assert sorted(os.listdir(root)) == sorted([ARCHIVE, FOLDER])  # no temp folder left
    assert sorted(os.listdir(root / FOLDER)) == sorted([*cifar10._TRAIN_BATCHES, "test_batch"])


def test_archive_checksum_mismatch(tiny, root):
    _, archive, _ = tiny
    (root / ARCHIVE).write_bytes(archive)
    with pytest.raises(ValueError) as info:
        cifar10.load_cifar10(root)
    message = str(info.value)
    assert str(root / ARCHIVE) in message
    assert cifar10.CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"
    assert cifar10.CIFAR10_MD5 in message and _md5(archive) in message
    assert os.listdir(root) == [ARCHIVE]


def test_truncated_archive(tiny, root, monkeypatch):
    _, archive, _ = tiny
    truncated = archive[: len(archive) // 2]
    (root / ARCHIVE).write_bytes(truncated)
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(truncated))
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        cifar10.load_cifar10(root)
    assert str(root / ARCHIVE) in str(info.value)
    assert os.listdir(root) == [ARCHIVE]


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = 5 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil.txt"),
        _member(f"{FOLDER}/../../evil.txt"),
        _member("/tmp/tinygrad_lc_evil.txt"),
        _member(f"{FOLDER}/link", tarfile.SYMTYPE, "../../evil.txt"),
        _member(f"{FOLDER}/abslink", tarfile.SYMTYPE, "/etc/passwd"),
        _member(f"{FOLDER}/hard", tarfile.LNKTYPE, "../evil.txt"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "abs-symlink", "hardlink"],
)
def test_path_traversal_member_is_refused(tiny, root, monkeypatch, member):
    files, _, _ = tiny
    payload = b"evil\n" if member.type == tarfile.REGTYPE else b""
    archive = _tar_bytes(files, extra=[(member, payload)])
    (root / ARCHIVE).write_bytes(archive)
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    with pytest.raises(ValueError, match="refused the archive member") as info:
        cifar10.load_cifar10(root)
    assert repr(member.name) in str(info.value)
    assert os.listdir(root) == [ARCHIVE]
    assert not (root.parent / "evil.txt").exists()
    assert not (root.parent.parent / "evil.txt").exists()


class _SystemCall:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class _EvalCall:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("payload, forbidden", [(_SystemCall, "system"), (_EvalCall, "eval")])
def test_malicious_pickle_is_refused_and_not_run(tiny, root, tmp_path, payload, forbidden):
    files, _, _ = tiny
    marker = tmp_path / "pwned"
    evil = {b"data": payload(marker), b"labels": [0]}
    files = {**files, "data_batch_1": pickle.dumps(evil, protocol=2)}
    _write_folder(root, files)
    with pytest.raises(pickle.UnpicklingError, match=forbidden) as info:
        cifar10.load_cifar10(root)
    assert "data_batch_1" in str(info.value)
    assert not marker.exists()


def test_codecs_encode_only_rebuilds_latin1_bytes(tiny, root):
    files, _, _ = tiny
    # Hand-written pickle: _codecs.encode("x", "utf-16") instead of the latin1 bytes trick.
    bad = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x06\x00\x00\x00utf-16\x86R."
    _write_folder(root, {**files, "test_batch": bad})
    with pytest.raises(pickle.UnpicklingError, match="latin1"):
        cifar10.load_cifar10(root)


@pytest.mark.parametrize(
    "batch, problem",
    [
        ({b"labels": [1, 2]}, "b'data'"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "b'labels'"),
        ({b"data": np.zeros((2, 3000), np.uint8), b"labels": [1, 2]}, "3072"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}, "uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2, 3]}, "2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, "0..9"),
        ([1, 2, 3], "dict"),
    ],
)
def test_malformed_batch_is_rejected(tiny, root, batch, problem):
    files, _, _ = tiny
    _write_folder(root, {**files, "data_batch_3": pickle.dumps(batch, protocol=2)})
    with pytest.raises(ValueError) as info:
        cifar10.load_cifar10(root)
    assert str(root / FOLDER / "data_batch_3") in str(info.value)
    assert problem in str(info.value)


# ----------------------------------------------------------------------------- size claims

_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_ROWS = 20_000  # a claim of 61 MB; small enough that the old loader's allocation stays harmless


class _Reduce:
    """Pickles as ``fn(*args)``, followed by ``__setstate__(state)`` when a state is given."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def _file_array(shape, raw, dtype="u1"):
    """An array pickled the way numpy does it, with a given (shared) data bytes object."""
    return _Reduce(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, shape, np.dtype(dtype), False, raw))


def _strided_view():  # the reproducer: one byte of data, zero strides, 61 MB once contiguous
    return {b"data": _Reduce(np.ndarray, ((_ROWS, 3072), np.dtype("u1"), b"\x00", 0, (0, 0))),
            b"labels": _Reduce(np.ndarray, ((_ROWS,), np.dtype("i8"), b"\x00" * 8, 0, (0,)))}


def _unbacked_array():  # ndarray(shape, dtype) with no buffer: 61 MB of whatever was in memory
    return {b"data": _Reduce(np.ndarray, ((_ROWS, 3072), np.dtype("u1"))), b"labels": [0] * 0}


def _reused_data_bytes():  # one 300 KB string, memoized and reused by 200 arrays: 61 MB
    raw = bytes(100 * 3072)  # (numpy copies it for a byte-swapped dtype, else shares it)
    return {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
            b"filenames": [_file_array((100, 1536), raw, ">u2") for _ in range(200)]}


def _reused_text():  # one 300 KB str, memoized, rebuilt as bytes 200 times: 61 MB
    text = "\x00" * (100 * 3072)
    return {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
            b"filenames": [_Reduce(codecs.encode, (text, "latin1")) for _ in range(200)]}


def _memo_index():  # a LONG_BINPUT naming memo slot 4,194,304: the C unpickler sizes its memo
    good = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=2)
    return good[:2] + b"Nr" + struct.pack("<I", 2**22) + b"0" + good[2:]  # None, memoize, pop


def _bytearray_claim():  # a protocol 5 bytearray claiming 60 MB, holding 4 bytes
    good = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=5)
    return good[:2] + b"\x96" + struct.pack("<Q", 60_000_000) + b"abcd0" + good[2:]


def _nested_labels():  # 3,000 references to one list of 3,000 labels: np.asarray makes 9e6
    row = [1] * 3000
    return {b"data": np.zeros((1, 3072), np.uint8), b"labels": [row] * 3000}


@pytest.mark.parametrize("payload", [_strided_view, _unbacked_array, _reused_data_bytes,
                                     _reused_text, _nested_labels, _memo_index,
                                     _bytearray_claim])
def test_tiny_file_cannot_claim_a_large_array(tiny, root, payload):
    files, _, _ = tiny
    evil = payload()
    evil = evil if isinstance(evil, bytes) else pickle.dumps(evil, protocol=2)
    _write_folder(root, {**files, "data_batch_1": evil})
    tracemalloc.start()
    try:
        try:
            cifar10.load_cifar10(root)
        except ValueError as exc:  # UnsafeBatchError is a ValueError too
            assert str(root / FOLDER / "data_batch_1") in str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Every payload claims 60 MB or more; loading may use a few times the file's size, no more.
    # (The memo payload is a valid batch: refusing it is not needed, allocating for it is not
    # allowed.)
    assert peak < 4 * len(evil) + 2_000_000, f"{peak:,} bytes for a {len(evil):,}-byte file"


def test_size_claim_names_the_array_and_the_file_size(tiny, root):
    files, _, _ = tiny
    raw = bytes(3072)
    batch = {b"data": _file_array((1, 3072), raw), b"labels": [0],
             b"more": [_file_array((1, 3072), raw) for _ in range(3)]}
    evil = pickle.dumps(batch, protocol=2)  # 4 arrays of 3,072 bytes share 3,072 bytes of file
    _write_folder(root, {**files, "test_batch": evil})
    with pytest.raises(ValueError, match=r"shape \(1, 3072\) and dtype uint8 claims 3,072 bytes, "
                       r"more than the file has left for it") as info:
        cifar10.load_cifar10(root)
    assert str(root / FOLDER / "test_batch") in str(info.value)


@pytest.mark.parametrize("batch, forbidden", [
    ({b"data": np.zeros((1, 3072), np.dtype("V1")), b"labels": [0]}, "dtype 'V1'"),
    ({b"data": np.array([{}]), b"labels": [0]}, "dtype 'O8'"),
    ({b"data": _Reduce(_RECONSTRUCT, (np.ndarray, (5,), b"b")), b"labels": [0]}, "shape \\(0,\\)"),
    ({b"data": _Reduce(np.ndarray, ((1, 3072), np.dtype("u1"))), b"labels": [0]}, "numpy.ndarray"),
], ids=["void", "object", "reconstruct-shape", "ndarray-call"])
def test_only_plain_number_arrays_are_built(tiny, root, batch, forbidden):
    files, _, _ = tiny
    _write_folder(root, {**files, "data_batch_2": pickle.dumps(batch, protocol=2)})
    with pytest.raises(pickle.UnpicklingError, match=forbidden) as info:
        cifar10.load_cifar10(root)
    assert str(root / FOLDER / "data_batch_2") in str(info.value)


def test_arrays_come_back_as_plain_ndarrays(tiny, root):
    files, _, _ = tiny
    _write_folder(root, files)
    assert all(type(a) is np.ndarray for a in cifar10.load_cifar10(root))


def test_truncated_batch_file(tiny, root):
    files, _, _ = tiny
    _write_folder(root, {**files, "test_batch": files["test_batch"][:100]})
    with pytest.raises(ValueError, match="could not read the batch file"):
        cifar10.load_cifar10(root)


def test_missing_batch_file(tiny, root):
    files, _, _ = tiny
    _write_folder(root, {k: v for k, v in files.items() if k != "data_batch_5"})
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        cifar10.load_cifar10(root)


# ----------------------------------------------------------------------------- download


class _Archive(http.server.BaseHTTPRequestHandler):
    """Serves ``server.payload`` for any path, claiming ``server.length`` bytes (the payload's
    length unless set) and sending only ``server.send`` of them, then hanging up."""

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        payload, server = self.server.payload, self.server
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(server.length or len(payload)))
        self.end_headers()
        self.wfile.write(payload[:server.send])
        self.close_connection = True

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def serve(monkeypatch):
    """``serve(payload, length=None, send=None)``: a real HTTP server on 127.0.0.1 that
    load_cifar10 downloads from (pooch, requests and all); returns the paths asked for."""
    servers = []

    def start(payload: bytes, length: int | None = None, send: int | None = None) -> list[str]:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Archive)
        server.payload, server.length, server.requests = payload, length, []
        server.send = len(payload) if send is None else send
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setattr(cifar10, "CIFAR10_URL",
                            f"http://127.0.0.1:{server.server_port}/~kriz/{ARCHIVE}")
        return server.requests

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL on this machine where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{ARCHIVE}"


def test_download_success(tiny, tmp_path, monkeypatch, serve):
    _, archive, expected = tiny
    root = tmp_path / "fresh" / "cache"  # does not exist yet
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    asked = serve(archive)
    _check_arrays(cifar10.load_cifar10(root), expected)
    assert asked == [f"/~kriz/{ARCHIVE}"]
    assert (root / ARCHIVE).read_bytes() == archive
    assert sorted(os.listdir(root)) == sorted([ARCHIVE, FOLDER])
    _check_arrays(cifar10.load_cifar10(root, download=False), expected)  # second call: cached
    assert len(asked) == 1


def test_the_official_address_and_checksum():
    assert cifar10.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar10.CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"


def test_download_without_tqdm(tiny, root, monkeypatch, serve):
    _, archive, expected = tiny
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    serve(archive)
    _check_arrays(cifar10.load_cifar10(root), expected)


def test_download_shows_progress_through_pooch(tiny, root, monkeypatch, serve):
    """pooch is handed the progress bar: it learns the size and counts every byte."""
    _, archive, _ = tiny
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    serve(archive)
    bars = []

    class Bar:
        total, done, peak, closed = None, 0, 0, False

        def update(self, n): self.done += n; self.peak = max(self.peak, self.done)  # noqa: E702
        def reset(self): self.done = 0
        def close(self): self.closed = True

    def progress_bar(total, desc, **options):
        bars.append(Bar())
        return bars[-1]

    monkeypatch.setattr(cifar10, "progress_bar", progress_bar)
    cifar10.load_cifar10(root)
    # exact: pooch counts whole 64 KB chunks, and resets the bar to fill it at the end
    assert len(bars) == 1 and bars[0].total == len(archive) == bars[0].done and bars[0].closed
    assert bars[0].peak == len(archive)  # never past 100%


def test_interrupted_download_leaves_nothing(tiny, root, monkeypatch, serve):
    _, archive, _ = tiny
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    serve(archive, send=len(archive) // 2)  # the connection drops half-way
    with pytest.raises(RuntimeError) as info:
        cifar10.load_cifar10(root)
    assert str(root / ARCHIVE) in str(info.value) and cifar10.CIFAR10_URL in str(info.value)
    assert os.listdir(root) == []


def test_ctrl_c_during_the_download_leaves_nothing(tiny, root, monkeypatch, serve):
    _, archive, _ = tiny
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    serve(archive)

    class Interrupting:
        total = None

        def update(self, n): raise KeyboardInterrupt
        def reset(self): pass
        def close(self): pass

    monkeypatch.setattr(cifar10, "progress_bar", lambda *a, **k: Interrupting())
    with pytest.raises(KeyboardInterrupt):
        cifar10.load_cifar10(root)
    assert os.listdir(root) == []


def test_short_download_leaves_nothing(tiny, root, monkeypatch, serve):
    _, archive, _ = tiny
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    serve(archive[:1000], length=len(archive))  # claims more than it sends
    with pytest.raises(RuntimeError, match="could not download.*by hand"):
        cifar10.load_cifar10(root)
    assert os.listdir(root) == []


def test_download_with_wrong_checksum_leaves_nothing(tiny, root, monkeypatch, serve):
    _, archive, _ = tiny
    serve(archive)
    with pytest.raises(ValueError, match="MD5") as info:
        cifar10.load_cifar10(root)
    assert _md5(archive) in str(info.value) and cifar10.CIFAR10_MD5 in str(info.value)
    assert "It was not kept" in str(info.value)
    assert os.listdir(root) == []


def test_offline_error_says_where_to_put_the_archive(root, monkeypatch):
    monkeypatch.setattr(cifar10, "CIFAR10_URL", closed_port_url())
    with pytest.raises(RuntimeError) as info:
        cifar10.load_cifar10(root)
    message = str(info.value)
    assert str(root / ARCHIVE) in message and cifar10.CIFAR10_URL in message
    assert "TINYGRAD_LC_DATA" in message and "run the same command again" in message
    assert os.listdir(root) == []


def test_without_pooch_a_download_says_how_to_get_it(root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # makes `import pooch` raise ImportError
    with pytest.raises(ImportError) as info:
        cifar10.load_cifar10(root)
    message = str(info.value)
    assert "pip install 'tinygrad_lc[cifar10]'" in message and str(root / ARCHIVE) in message
    assert os.listdir(root) == []


def test_download_false_with_nothing_on_disk(root, monkeypatch):
    monkeypatch.setattr(cifar10, "_download", lambda archive: pytest.fail("must not download"))
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_cifar10(root, download=False)
    message = str(info.value)
    assert str(root / ARCHIVE) in message and cifar10.CIFAR10_URL in message
    assert "TINYGRAD_LC_DATA" in message and "load_cifar10 again" not in message


def test_env_var_sets_default_root(tiny, root, monkeypatch):
    files, _, expected = tiny
    _write_folder(root, files)
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(root))
    _check_arrays(cifar10.load_cifar10(download=False), expected)


def test_env_var_may_name_the_batches_folder_itself(tiny, root, monkeypatch):
    files, _, expected = tiny
    _write_folder(root, files)
    monkeypatch.setenv("TINYGRAD_LC_DATA", str(root / FOLDER))
    monkeypatch.setattr(cifar10, "_download", lambda archive: pytest.fail("must not download"))
    _check_arrays(cifar10.load_cifar10(), expected)
    _check_arrays(cifar10.load_cifar10(root / FOLDER), expected)
    assert cifar10.cifar10_fingerprint() == cifar10.cifar10_fingerprint(root) is not None


def test_default_root_is_the_user_cache_folder_of_platformdirs(tmp_path, monkeypatch):
    platformdirs = pytest.importorskip("platformdirs")
    monkeypatch.delenv("TINYGRAD_LC_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # read on Linux
    expected = Path(platformdirs.user_cache_dir("tinygrad_lc", appauthor=False))
    assert data.data_root() == expected
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_cifar10(download=False)
    assert str(expected / ARCHIVE) in str(info.value)
    if sys.platform.startswith("linux"):
        assert expected == tmp_path / "xdg" / "tinygrad_lc"


def test_without_platformdirs_the_default_root_is_the_linux_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "platformdirs", None)
    monkeypatch.delenv("TINYGRAD_LC_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_root() == tmp_path / ".cache" / "tinygrad_lc"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_root() == tmp_path / "xdg" / "tinygrad_lc"


def test_downloaded_archive_gets_the_usual_mode(tiny, root, monkeypatch, serve):
    _, archive, _ = tiny
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    serve(archive)
    old = os.umask(0o022)
    try:
        cifar10.load_cifar10(root)
    finally:
        os.umask(old)
    assert (root / ARCHIVE).stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600


def test_importing_the_data_module_loads_no_download_machinery():
    """pooch, requests, urllib, http, ssl and tarfile are imported only when a download or an
    extraction happens (they cost 35 to 85 ms at import)."""
    code = ("import sys, tinygrad_lc, tinygrad_lc.data, tinygrad_lc.cli; "
            "print(sorted(m for m in ('pooch', 'requests', 'urllib.request', 'http.client', "
            "'ssl', 'tarfile', 'platformdirs') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout == "[]\n", done.stdout


def test_data_module_offers_the_same_loader():
    assert data.load_cifar10 is cifar10.load_cifar10


def test_a_refused_batch_is_a_value_error_too(tiny, root, tmp_path):
    # every bad batch file, corrupt or hostile, can be caught as one ValueError naming the file
    files, _, _ = tiny
    evil = {b"data": _SystemCall(tmp_path / "pwned"), b"labels": [0]}
    _write_folder(root, {**files, "data_batch_1": pickle.dumps(evil, protocol=2)})
    with pytest.raises(ValueError, match="data_batch_1") as info:
        cifar10.load_cifar10(root)
    assert isinstance(info.value, pickle.UnpicklingError)
