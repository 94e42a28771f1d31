"""CIFAR-10: download, checksum, defensive extraction and a restricted unpickler.

The official archive is downloaded once with pooch (checked against its published MD5 before
it is moved into place, with a progress bar on a terminal), extracted all at once or not at
all after every member is checked, and its pickled batches are read with an unpickler that
only builds numpy arrays of plain numbers and builtin containers, and only arrays whose bytes
are in the file: every claimed size is checked against the file's size before anything is
allocated. The download machinery (pooch and through it requests, ssl, urllib3) and tarfile
are imported only when an archive is downloaded or extracted, so importing this module is
cheap. ``tinygrad_lc.data.load_cifar10`` is this module's ``load_cifar10``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_lc.data.cache import DATA_ENV, data_root, file_fingerprint
from tinygrad_lc.util.progress import progress_bar

if TYPE_CHECKING:
    import tarfile

__all__ = ["batches_folder", "cifar10_fingerprint", "load_cifar10"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # published by the dataset authors
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_EXTRA = "pip install 'tinygrad_lc[cifar10]'"  # brings pooch (and platformdirs)
_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_BATCH = "test_batch"
_IMAGE_SIZE = 3 * 32 * 32
_CHUNK = 1 << 16
_TIMEOUT = 60.0


def batches_folder(root: Path) -> Path:
    """The ``cifar-10-batches-py/`` folder of a data folder ``root``: ``root`` itself when it
    holds the batches (``TINYGRAD_LC_DATA`` may name either), else ``root / CIFAR10_FOLDER``.

    >>> batches_folder(Path("data")).as_posix()
    'data/cifar-10-batches-py'
    """
    return root if (root / _TRAIN_BATCHES[0]).is_file() else root / CIFAR10_FOLDER


def cifar10_fingerprint(root: str | os.PathLike[str] | None = None) -> list[list[Any]] | None:
    """``file_fingerprint`` of the extracted CIFAR-10 batches (None before extraction)."""
    folder = batches_folder(Path(root).expanduser() if root is not None else data_root())
    return file_fingerprint([folder / name for name in (*_TRAIN_BATCHES, _TEST_BATCH)])


def _md5_of_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # integrity check, not security
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_error(what: str, actual: str, advice: str) -> ValueError:
    return ValueError(
        f"load_cifar10: the MD5 checksum of {what} is {actual}, expected {CIFAR10_MD5}; "
        f"it is incomplete or not the official CIFAR-10 archive. {advice}"
    )


def _by_hand_hint(archive: Path) -> str:
    return (f"Download {CIFAR10_URL} (163 MB) by hand and save it as {archive}, or set "
            f"{DATA_ENV} to the folder that holds it or its extracted {CIFAR10_FOLDER}/ "
            "folder; then run the same command again.")


def _usual_mode(folder: Path) -> int:
    """The permission bits a new file in ``folder`` gets from a plain ``open(path, "w")``:
    0o666 less the umask or the folder's default ACL, found by making one (the umask can only
    be read by setting it, which affects every thread)."""
    probe = folder / f".mode-probe-{os.getpid()}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        return os.fstat(fd).st_mode & 0o777
    finally:
        os.close(fd)
        os.unlink(probe)


class _DownloadBar:
    """The progress bar pooch drives (it sets ``total``, calls ``update``, ``reset`` and
    ``close``) over ``progress_bar``'s: always true, as pooch asks ``if progressbar:`` and a
    tqdm bar without a total refuses ``bool()``. pooch counts whole chunks (the last one may
    be short) and at the end resets the bar and fills it at once, which would show a
    meaningless rate: the count is kept exact instead, and the reset ignored."""

    def __init__(self) -> None:
        self.bar = progress_bar(None, CIFAR10_ARCHIVE, unit="B", unit_scale=True,
                                unit_divisor=1024)
        self.done = 0

    @property
    def total(self) -> int | None:
        return self.bar.total

    @total.setter
    def total(self, value: int | None) -> None:
        self.bar.total = value  # the Content-Length, known once the answer starts

    def update(self, n: int) -> None:
        if self.total:  # never past the size the server announced
            n = max(0, min(n, self.total - self.done))
        self.done += n
        self.bar.update(n)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        self.bar.close()


def _download(archive: Path) -> None:
    """Download the archive with pooch, which moves it into place only once its MD5 matches."""
    try:
        # pooch is optional (the cifar10 extra) and brings requests, urllib3 and ssl, each
        # slow to import: only when a download happens
        import pooch
    except ImportError as exc:
        raise ImportError(
            f"load_cifar10: CIFAR-10 is not in {archive.parent} and downloading it needs pooch, "
            f"which is not installed: {CIFAR10_EXTRA}. {_by_hand_hint(archive)}"
        ) from exc
    archive.parent.mkdir(parents=True, exist_ok=True)
    bar = _DownloadBar()
    # pooch documents any object with these methods as a progress bar; its stub says bool
    fetch = pooch.HTTPDownloader(progressbar=bar, timeout=_TIMEOUT,  # pyright: ignore[reportArgumentType]
                                 chunk_size=_CHUNK)
    try:
        pooch.retrieve(CIFAR10_URL, known_hash=f"md5:{CIFAR10_MD5}", fname=archive.name,
                       path=archive.parent, downloader=fetch)  # pyright: ignore[reportArgumentType]
    except ValueError as exc:  # pooch's hash mismatch; the download was not kept
        said = re.search(r"but got (\w+)", str(exc))  # pooch names the MD5 it computed
        actual = said.group(1) if said else "different"
        advice = f"It was not kept. {_by_hand_hint(archive)}"
        raise _checksum_error(f"the file downloaded from {CIFAR10_URL}", actual, advice) from exc
    except OSError as exc:  # offline, refused, cut short (requests' errors are OSErrors)
        raise RuntimeError(
            f"load_cifar10 could not download {CIFAR10_URL} ({exc}). {_by_hand_hint(archive)}"
        ) from exc
    finally:
        bar.close()
    os.chmod(archive, _usual_mode(archive.parent))  # not the 0o600 of pooch's temporary file


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or name[1:2] == ":" or ".." in parts:
        reason = "it would land outside the target folder (absolute path or '..')"
    elif member.issym() or member.islnk():
        # The real archive has no links, and links are how extraction escapes its folder.
        reason = f"it is a link to {member.linkname!r}, expected only files and folders"
    elif not (member.isfile() or member.isdir()):
        reason = "it is a device, FIFO or other special file, expected only files and folders"
    else:
        return
    raise ValueError(f"load_cifar10 refused the archive member {name!r}: {reason}.")


def _extract(archive: Path, root: Path) -> None:
    """Extract the batches folder of ``archive`` into ``root`` all at once or not at all."""
    actual = _md5_of_file(archive)
    if actual != CIFAR10_MD5:
        raise _checksum_error(str(archive), actual, "Delete it and try again.")
    # tarfile (with gzip and zlib) only when an archive is extracted: import stays cheap
    import gzip
    import tarfile
    import zlib

    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".cifar-10-extract-"))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()  # reads to the end, so truncation shows up here
                for member in members:
                    _check_member(member)
                # The "data" filter (Python >= 3.11.4) is a second line of defence.
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:
                    tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(
                f"load_cifar10 could not extract {archive}: the archive is truncated or corrupt "
                f"({type(exc).__name__}: {exc}). Delete it and try again."
            ) from exc
        extracted = tmp / CIFAR10_FOLDER
        if not extracted.is_dir():
            raise ValueError(f"load_cifar10 expected a {CIFAR10_FOLDER}/ folder in {archive}.")
        try:
            os.rename(extracted, root / CIFAR10_FOLDER)
        except OSError:
            if not (root / CIFAR10_FOLDER).is_dir():  # another process may have won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Refused(pickle.UnpicklingError):
    """The batch file asks for something a CIFAR-10 batch never needs."""


class UnsafeBatchError(pickle.UnpicklingError, ValueError):
    """A batch file was refused for what it asks the unpickler to do.

    Both an ``UnpicklingError`` (what it is) and a ``ValueError`` (so every bad file, corrupt
    or hostile, can be caught as one ``ValueError``).
    """


class _NdarrayName:
    """Stands for ``numpy.ndarray`` in a batch: it may be named (as the type that
    ``_reconstruct`` rebuilds) but never called, since ``ndarray(shape, dtype, buffer, offset,
    strides)`` builds arrays whose bytes are not in the file."""

    __slots__ = ()  # no __dict__: a pickle cannot store its data on this shared object

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise _Refused(
            "load_cifar10 refused a call of numpy.ndarray(...): it can build an array whose "
            "bytes are not in the file (a shape, a buffer and zero strides), so this file is not "
            "trustworthy."
        )


_NDARRAY = _NdarrayName()
_BYTE_ORDERS = ("<", ">", "|", "=")


class _DtypeSpec:
    """What ``numpy.dtype(code, align, copy)`` and its pickled state stand for: a plain number
    type and a byte order. Only ``_FileArray.__setstate__`` turns it into a real dtype."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        # numpy's dtype state: (version, byte order, subarray, names, fields, ...); a plain
        # number type has no subarray, names or fields.
        if not (isinstance(state, tuple) and len(state) >= 5
                and all(part is None for part in state[2:5])):
            raise _Refused("load_cifar10 refused a dtype state other than a plain byte order: "
                           "a CIFAR-10 batch holds only arrays of plain numbers.")
        order = state[1].decode("ascii", "replace") if isinstance(state[1], bytes) else state[1]
        if not (isinstance(order, str) and order in _BYTE_ORDERS):
            raise _Refused(f"load_cifar10 refused the dtype byte order {state[1]!r}.")
        self.dtype = self.dtype.newbyteorder(order) if order in "<>" else self.dtype


class _Room:
    """What is left of a file's size for the arrays it builds and the bytes it rebuilds from
    text: each may hold at most as many bytes as the file has. A memoized piece reused many
    times counts each time, so reuse cannot multiply a small file into a large allocation."""

    def __init__(self, size: int):
        self.arrays = self.text = size

    def claim_array(self, nbytes: int, what: str) -> None:
        if nbytes > self.arrays:
            raise ValueError(
                f"{what} claims {nbytes:,} bytes, more than the file has left for it "
                f"({self.arrays:,} bytes): only arrays whose bytes are in the file are built"
            )
        self.arrays -= nbytes

    def claim_text(self, nbytes: int) -> None:
        if nbytes > self.text:
            raise ValueError(f"the file rebuilds {nbytes:,} bytes from text, more than it has "
                             f"left for that ({self.text:,} bytes)")
        self.text -= nbytes


def _array_nbytes(shape: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """Check an array's pickled shape and dtype; return them and its size in bytes."""
    if not (isinstance(shape, tuple) and len(shape) <= 32
            and all(type(n) is int and n >= 0 for n in shape)):
        raise ValueError(f"an array state has the shape {shape!r}, expected a tuple of ints >= 0")
    if not isinstance(dtype, _DtypeSpec):
        raise _Refused("load_cifar10 refused an array state whose dtype was not built by "
                       f"numpy.dtype (got {type(dtype).__name__}).")
    return shape, dtype.dtype, math.prod(shape) * dtype.dtype.itemsize  # Python ints: exact


class _FileArray(np.ndarray):
    """The array ``_reconstruct`` hands to the unpickler. Its ``__setstate__`` checks the
    claimed size against what is left of the file's size before numpy allocates anything."""

    _room: _Room

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, data); version 0 lacks it
        if not (isinstance(state, tuple) and len(state) == 4):
            raise ValueError("an array state is not (shape, dtype, is_fortran, data)")
        shape, dtype, nbytes = _array_nbytes(state[0], state[1])
        fortran, data = state[2], state[3]
        self._room.claim_array(nbytes, f"an array of shape {shape} and dtype {dtype}")
        if not isinstance(data, bytes) or len(data) != nbytes:
            got = f"{len(data)} bytes" if isinstance(data, bytes) else type(data).__name__
            raise ValueError(f"an array of shape {shape} and dtype {dtype} needs {nbytes} bytes "
                             f"of data, got {got}")
        super().__setstate__((1, shape, dtype, bool(fortran), data))  # pyright: ignore[reportArgumentType]


class _BatchUnpickler(pickle._Unpickler):
    """Unpickler that can only build numpy arrays of plain numbers and builtin containers.

    It is the pure-Python unpickler, reading from memory: the C one sizes its memo array by the
    largest index a PUT names (a 5-byte LONG_BINPUT can ask for 64 GB), and a file's ``read(n)``
    allocates ``n`` bytes up front however short the file is. Its speed is the same here: a
    batch is one long string and a few thousand small items.

    It never hands numpy's own callables to the pickle: ``numpy.ndarray`` may only be named,
    ``_reconstruct`` makes a ``_FileArray`` whose state is checked, ``numpy.dtype`` accepts
    plain number codes only. The arrays built, and the bytes rebuilt from text, may each hold at
    most as many bytes as the file has (a memoized piece reused many times counts each time),
    so a tiny file cannot claim a huge array.
    """

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data), encoding="bytes")  # written by Python 2
        self._room = _Room(len(data))
        self._globals: dict[tuple[str, str], Any] = {
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy", "ndarray"): _NDARRAY,
            ("numpy", "dtype"): self._dtype,
            ("_codecs", "encode"): self._encode_latin1,
        }

    def _load_bytearray8(self) -> None:
        # It allocates the length it claims before reading (so does the C unpickler's).
        raise _Refused("load_cifar10 refused a bytearray in the pickle: CIFAR-10 batches hold "
                       "none, and its claimed length is allocated before it is read.")

    dispatch = {**pickle._Unpickler.dispatch,  # pyright: ignore[reportAttributeAccessIssue]
                pickle.BYTEARRAY8[0]: _load_bytearray8}  # pyright: ignore[reportAssignmentType]

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._globals[(module, name)]
        except KeyError:
            raise _Refused(
                f"load_cifar10 refused to unpickle the global {module}.{name}: a CIFAR-10 batch "
                "holds only numpy arrays and builtin containers, so this file is not trustworthy."
            ) from None

    def _reconstruct(self, subtype: Any, shape: Any, typecode: Any) -> _FileArray:
        # numpy pickles every array as _reconstruct(ndarray, (0,), b"b") followed by its state
        if subtype is not _NDARRAY or not (type(shape) is tuple and len(shape) == 1
                                           and type(shape[0]) is int and shape[0] == 0):
            raise _Refused("load_cifar10 refused _reconstruct with arguments numpy never "
                           "writes (expected numpy.ndarray and the shape (0,)).")
        array = np.ndarray.__new__(_FileArray, (0,), np.uint8)
        array._room = self._room
        return array

    def _dtype(self, code: Any, align: Any = False, copy: Any = False) -> _DtypeSpec:
        if isinstance(code, bytes):
            code = code.decode("ascii", "replace")
        dtype = None
        if isinstance(code, str) and len(code) <= 16:
            with contextlib.suppress(Exception):  # any code numpy cannot read is refused below
                dtype = np.dtype(code)
        if dtype is None or dtype.kind not in "biufc" or dtype.fields or dtype.subdtype:
            raise _Refused(f"load_cifar10 refused the dtype {code!r}: a CIFAR-10 batch holds "
                           "only arrays of plain numbers.")
        return _DtypeSpec(dtype)

    def _encode_latin1(self, text: Any, encoding: Any = "latin1") -> bytes:
        # Python 3 pickles bytes at protocol 2 as _codecs.encode(str, "latin1"); allow only that.
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise _Refused(
                "load_cifar10 refused the global _codecs.encode: it is allowed only to rebuild "
                f"bytes from a str with the latin1 codec, got {type(text).__name__} and "
                f"{encoding!r}."
            )
        self._room.claim_text(len(text))
        return text.encode("latin-1")


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file; return images (n, 32, 32, 3) uint8 and labels (n,) int64."""
    if not path.is_file():
        raise FileNotFoundError(
            f"load_cifar10: the batch file {path} is missing; delete the folder {path.parent} "
            "so it is extracted again from the archive."
        )
    try:
        batch = _BatchUnpickler(path.read_bytes()).load()
    except _Refused as exc:
        raise UnsafeBatchError(f"{exc} Refused file: {path}") from exc
    except Exception as exc:  # truncated, corrupt, or a size claim the file cannot back
        raise ValueError(f"load_cifar10 could not read the batch file {path}: {exc}") from exc

    def bad(expected: str, got: str) -> ValueError:
        return ValueError(f"load_cifar10: the batch file {path} should hold {expected}, got {got}.")

    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = type(batch).__name__
        if isinstance(batch, dict):  # short names only: a key may be huge or nested deep
            found = str(sorted(repr(k)[:40] if isinstance(k, bytes | str) else type(k).__name__
                               for k in list(batch)[:10]))
        raise bad("a dict with keys b'data' and b'labels'", found)
    data, labels = batch[b"data"], batch[b"labels"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == _IMAGE_SIZE):
        got = f"{type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}"
        raise bad(f"b'data' as a uint8 array of shape (n, {_IMAGE_SIZE})", got)
    n = data.shape[0]
    if isinstance(labels, list):
        # checked item by item before numpy sees it: nested lists that share one memoized
        # list would make np.asarray build far more numbers than the file holds
        if len(labels) != n or not all(type(v) is int and 0 <= v <= 9 for v in labels):
            raise bad(f"b'labels' as {n} integers in 0..9", f"a list of {len(labels)} items "
                      f"({', '.join(sorted({type(v).__name__ for v in labels[:100]}))})")
        labels = np.array(labels, dtype=np.int64)
    if not isinstance(labels, np.ndarray):
        raise bad(f"b'labels' as {n} integers in 0..9", type(labels).__name__)
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or (
            n and (labels.min() < 0 or labels.max() > 9)):
        raise bad(f"b'labels' as {n} integers in 0..9", f"{labels.dtype} {labels.shape}")
    # Each row is three 32x32 planes (R, G, B); move channels last for (n, 32, 32, 3).
    images = np.ascontiguousarray(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, np.asarray(labels).astype(np.int64)


def load_cifar10(
    root: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load CIFAR-10, downloading and extracting the official archive on first use.

    Parameters
    ----------
    root : str or path-like, optional
        Folder holding ``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``, or the
        ``cifar-10-batches-py/`` folder itself. Defaults to ``data_root()``:
        ``$TINYGRAD_LC_DATA`` or, when that is unset, this user's cache folder
        (``~/.cache/tinygrad_lc`` on Linux).
    download : bool, default True
        Download the archive with pooch (about 163 MB, checked against its MD5, with a tqdm
        progress bar when tqdm is installed and stderr is a terminal) when neither the folder
        nor the archive is in ``root``. pooch comes with ``pip install
        'tinygrad_lc[cifar10]'``.

    Returns
    -------
    X_train, y_train, X_test, y_test : numpy.ndarray
        uint8 images of shapes (50000, 32, 32, 3) and (10000, 32, 32, 3), channels R, G, B
        last, and int64 labels 0..9 of shapes (50000,) and (10000,).

    Raises
    ------
    FileNotFoundError
        ``download`` is False and nothing is in ``root``; the message gives the path to use.
    ImportError
        A download is needed and pooch is not installed; the message says how to install it
        or where to put the archive.
    RuntimeError
        The download failed (offline, interrupted); the message says where to put the archive.
    ValueError
        A checksum mismatch, a truncated archive, an unsafe archive member, a malformed batch,
        or a batch whose arrays claim more bytes than the file holds (nothing is allocated).
    UnsafeBatchError
        (a ``pickle.UnpicklingError`` and a ``ValueError``): a batch file tries to load
        anything but numpy arrays of plain numbers and builtin containers, or calls
        ``numpy.ndarray(...)`` directly.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_cifar10()  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train[:3]  # doctest: +SKIP
    ((50000, 32, 32, 3), dtype('uint8'), array([6, 9, 9]))
    """
    root = Path(root).expanduser() if root is not None else data_root()
    folder, archive = batches_folder(root), root / CIFAR10_ARCHIVE
    if not folder.is_dir():
        if not archive.is_file():
            if not download:
                raise FileNotFoundError(
                    f"load_cifar10: CIFAR-10 is not in {root} (neither {CIFAR10_FOLDER}/ nor "
                    f"{CIFAR10_ARCHIVE} is there) and download=False. {_by_hand_hint(archive)}"
                )
            _download(archive)
        _extract(archive, root)
    train = [_load_batch(folder / name) for name in _TRAIN_BATCHES]
    X_test, y_test = _load_batch(folder / _TEST_BATCH)
    X_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return X_train, y_train, X_test, y_test
