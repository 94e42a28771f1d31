"""Checkpoints: a nested state (dicts, lists, numbers, strings, arrays) in one ``.npz`` file.

Arrays go into the archive as they are; everything else (configuration, step counters, the
state of an ``np.random.Generator``) goes into one JSON string stored beside them. Nothing is
pickled, so a checkpoint is read without unpickling anything and loading a file from an
untrusted source cannot run code. Nor can a small file claim a large array: every member's
.npy header must claim exactly the bytes the member holds, and every member's size must be
backed by the file, before anything is allocated.

Saving is atomic (``atomic.atomic_open``): the archive is written to a temporary file in the
same folder, flushed to disk with ``fsync`` and moved over the old checkpoint with
``os.replace``. A crash mid-save leaves the previous checkpoint as it was.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from tinygrad_lc.util.atomic import atomic_open

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "tinygrad_lc.checkpoint"
VERSION = 1
_META = "__meta__"  # archive entry holding the JSON description of the state
_ARRAY_TAG = "__array__"  # {"__array__": "entry"} marks where an array sat in the tree
_PAIRS_TAG = "__pairs__"  # {"__pairs__": [[key, value], ...]}: a dict with non-string keys
_MAX_STATE_DEPTH = 50  # how deep a saved state may nest (dicts, lists, tuples)
_MAX_JSON_DEPTH = 3 * _MAX_STATE_DEPTH + 10  # its JSON: a dict with other keys takes 3 levels
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENERS, _CLOSERS = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)
_MAX_RATIO = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}  # DEFLATE's largest ratio
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")  # characters kept out of entry names (zip members)


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, foreign or does not fit the current run."""


def _entry_name(path: tuple[str, ...], taken: dict[str, np.ndarray]) -> str:
    """The archive entry of the array at ``path`` in the state: its keys joined by "/"
    (``model/W``, ``model/optimizer/velocity/0``), made safe as a zip member name and unique.

    Files written before entries had names use ``a0``, ``a1``, ...: the description in the
    file names the entries, so both load alike.

    >>> _entry_name(("model", "W"), {}), _entry_name(("..", "a b/c"), {})
    ('model/W', '_/a_b_c')
    >>> _entry_name(("W",), {"W": np.zeros(1)})
    'W~2'
    """
    parts = [_UNSAFE.sub("_", p) for p in path] or ["array"]
    base = "/".join("_" if set(p) <= {"."} else p for p in parts)  # no "", ".", ".." parts
    name, k = base, 2
    while name in taken or name == _META:
        name, k = f"{base}~{k}", k + 1
    return name


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str, depth: int = 0,
            path: tuple[str, ...] = ()) -> Any:
    """Turn ``value`` into JSON-ready data; arrays move into ``arrays`` under their path."""
    if isinstance(value, (list, tuple, dict)) and depth >= _MAX_STATE_DEPTH:
        raise ValueError(f"save_checkpoint: {where} nests deeper than {_MAX_STATE_DEPTH} levels "
                         "of dicts and lists; load_checkpoint would refuse the file")
    depth += 1
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"save_checkpoint: {where} is an object array, which needs pickle")
        name = _entry_name(path, arrays)
        arrays[name] = value
        return {_ARRAY_TAG: name}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays, f"{where}[{i}]", depth, (*path, str(i)))
                for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not ({_ARRAY_TAG, _PAIRS_TAG} & set(value)):
            return {k: _encode(v, arrays, f"{where}[{k!r}]", depth, (*path, k))
                    for k, v in value.items()}
        return {_PAIRS_TAG: [[_encode(k, arrays, f"{where} key", depth, (*path, "key")),
                              _encode(v, arrays, f"{where}[{k!r}]", depth, (*path, _key_text(k)))]
                             for k, v in value.items()]}
    raise TypeError(
        f"save_checkpoint: {where} is a {type(value).__name__}; expected dicts, lists, numbers, "
        "strings, None or numpy arrays"
    )


def _key_text(key: Any) -> str:
    """A dict key as a part of an entry name: ``(0, 1)`` -> ``0_1``."""
    return "_".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _decode(value: Any, arrays: dict[str, np.ndarray], used: set[str]) -> Any:
    """Inverse of ``_encode``: put the arrays back where their tags are."""
    if isinstance(value, list):
        return [_decode(v, arrays, used) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {_ARRAY_TAG}:
        name = value[_ARRAY_TAG]
        if name not in arrays:
            raise KeyError(f"the description refers to an array {name!r} that is not in the file")
        used.add(name)
        return arrays[name]
    if set(value) == {_PAIRS_TAG}:
        pairs = [(_decode(k, arrays, used), _decode(v, arrays, used)) for k, v in value[_PAIRS_TAG]]
        return {(tuple(k) if isinstance(k, list) else k): v for k, v in pairs}
    return {k: _decode(v, arrays, used) for k, v in value.items()}


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` as an ``.npz`` archive, atomically.

    Parameters
    ----------
    path : str or path-like
        Destination file; its folder is created when missing. The name is used as given
        (no ``.npz`` is appended).
    state : dict
        Nested dicts (any hashable JSON-able keys), lists, tuples (read back as lists), bools,
        ints (of any size), floats, strings, None and numpy arrays of numbers.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        ``state`` holds something that would need pickle (an object, an object array).
    ValueError
        ``state`` nests deeper than 50 levels of dicts and lists.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.npz"
    >>> rng = np.random.default_rng(0)
    >>> _ = save_checkpoint(path, {"step": 3, "W": np.eye(2), "rng": rng.bit_generator.state})
    >>> state = load_checkpoint(path)
    >>> state["step"], state["W"].tolist(), state["rng"] == rng.bit_generator.state
    (3, [[1.0, 0.0], [0.0, 1.0]], True)
    """
    if not isinstance(state, dict):
        raise TypeError(f"save_checkpoint: expected a dict state, got {type(state).__name__}")
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(state, arrays, "state")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "state": tree})
    with atomic_open(path) as f:
        _write_npz(f, {_META: np.array(meta), **arrays})
    return path


def _write_npz(f: Any, arrays: dict[str, np.ndarray]) -> None:
    """Write the archive body; a separate function so tests can simulate a crash mid-write."""
    np.savez(f, **arrays)  # pyright: ignore[reportArgumentType]  (numpy's stub: no 'allow_pickle' key here)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, without unpickling anything.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
        The saved state; tuples come back as lists.

    Raises
    ------
    CheckpointError
        The file is missing, empty, truncated or corrupt, is not an ``.npz`` archive, or is an
        ``.npz`` archive that was not written by :func:`save_checkpoint`; also when an array's
        header claims more bytes than the file holds (refused before anything is allocated)
        or the description nests too deep. Every way the file can be wrong raises this; the
        message names the file and what is wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "foreign.npz"
    >>> np.savez(path, x=np.zeros(3))
    >>> load_checkpoint(path)
    Traceback (most recent call last):
    ...
    tinygrad_lc.util.checkpoint.CheckpointError: load_checkpoint: .../foreign.npz is not a \
tinygrad_lc checkpoint: it is an .npz archive without the '__meta__' entry (it holds: x)
    """
    path = Path(path)
    try:
        return _load(path)
    except (CheckpointError, MemoryError):
        raise  # after the size checks, a MemoryError means this machine, not the file
    except Exception as exc:  # the one place: any other way the bytes can be wrong
        raise CheckpointError(f"load_checkpoint: {path} is damaged or not a checkpoint "
                              f"({type(exc).__name__}: {exc})") from exc


def _load(path: Path) -> dict[str, Any]:
    def fail(what: str) -> CheckpointError:
        return CheckpointError(f"load_checkpoint: {path} {what}")

    if not path.is_file():
        raise fail("does not exist" if not path.exists() else "is not a file")
    with open(path, "rb") as f:
        head = f.read(6)
    if not head:
        raise fail("is empty (0 bytes); was it copied or saved only in part?")
    if head.startswith(b"\x93NUMPY"):
        raise fail("is a single .npy array, not a checkpoint (an .npz archive)")
    if not head.startswith(b"PK"):  # every .npz is a zip archive, and zips start with "PK"
        raise fail(f"is not an .npz archive (it starts with {head!r}; a text file?)")
    try:
        arrays = _read_arrays(path, fail)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError) as exc:  # numpy: ValueError
        raise fail(f"is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    if _META not in arrays:
        held = ", ".join(sorted(arrays)) or "nothing"
        raise fail(f"is not a tinygrad_lc checkpoint: it is an .npz archive without the "
                   f"{_META!r} entry (it holds: {held})")
    meta_array = arrays.pop(_META)
    text = str(meta_array[()]) if meta_array.shape == () else None
    depth = _json_depth(text) if text is not None else 0
    if depth > _MAX_JSON_DEPTH:
        raise fail(f"is not a valid tinygrad_lc checkpoint: its {_META!r} entry nests {depth:,} "
                   f"levels deep; a checkpoint's description nests at most {_MAX_JSON_DEPTH}")
    try:
        if text is None:
            raise TypeError(f"it is an array of shape {meta_array.shape}, expected one string")
        meta = json.loads(text)
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise fail(f"is not a valid tinygrad_lc checkpoint: its {_META!r} entry is not the "
                   f"JSON description of a state ({exc})") from exc
    try:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"its format is {meta.get('format')!r}, expected {FORMAT!r}"
                             if isinstance(meta, dict) else "the description is not a JSON object")
        if meta.get("version") != VERSION:
            raise ValueError(f"it has format version {meta.get('version')!r}; this tinygrad_lc "
                             f"reads version {VERSION}")
        used: set[str] = set()
        state = _decode(meta["state"], arrays, used)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise fail(f"is not a valid tinygrad_lc checkpoint: {exc}") from exc
    if not isinstance(state, dict):
        raise fail("is not a valid tinygrad_lc checkpoint: the saved state is not a dict")
    return state


def _json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), without recursion."""
    outside = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass")
    codes = np.frombuffer(outside, dtype=np.uint8)
    steps = np.isin(codes, _OPENERS).astype(np.int64) - np.isin(codes, _CLOSERS)
    return int(np.cumsum(steps).max(initial=0))


def _read_arrays(path: Path, fail: Callable[[str], CheckpointError]) -> dict[str, np.ndarray]:
    """Read every member of the archive, after checking that its bytes are in the file.

    Each member's size in the zip directory must be backed by the file (stored: exactly its
    compressed size; DEFLATE: at most DEFLATE's largest ratio, 1032:1), and its .npy header
    must claim exactly the bytes the member holds. Only then is the array allocated.
    """
    file_size = path.stat().st_size
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if sum(info.compress_size for info in infos) > file_size:
            raise fail(f"is truncated or corrupt: its zip directory claims more bytes "
                       f"({sum(info.compress_size for info in infos):,}) than the file has "
                       f"({file_size:,})")
        for info in infos:
            name = info.filename

            def bad(what: str, name: str = name) -> CheckpointError:
                return fail(f"is truncated or corrupt: its member {name!r} {what}")

            if not name.endswith(".npy") or name[:-4] in arrays:
                raise bad("is not an .npy array" if not name.endswith(".npy") else
                          "appears twice")
            if info.flag_bits & 0x1:
                raise bad("is encrypted; checkpoints never are")
            if info.compress_type not in _MAX_RATIO:
                raise bad(f"uses zip compression method {info.compress_type}; checkpoints use "
                          "none (np.savez) or DEFLATE (np.savez_compressed)")
            slack = 64 if info.compress_type == zipfile.ZIP_DEFLATED else 0  # a tiny stream
            if info.file_size > _MAX_RATIO[info.compress_type] * info.compress_size + slack:
                raise bad(f"claims {info.file_size:,} bytes from {info.compress_size:,} stored "
                          "bytes, more than its compression method can give")
            with archive.open(info) as member:
                version = npy_format.read_magic(member)
                shape, fortran, dtype = _read_npy_header(member, version)
                if dtype.hasobject:
                    raise fail("holds pickled objects, which checkpoints never do; refusing "
                               "to unpickle them")
                claimed = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
                held = info.file_size - member.tell()
                if claimed != held:
                    raise bad(f"claims an array of shape {shape} and dtype {dtype} "
                              f"({claimed:,} bytes) but holds {held:,} bytes")
                member.seek(0)  # the claim is backed: let numpy read the whole .npy
                arrays[name[:-4]] = npy_format.read_array(member, allow_pickle=False)
    return arrays


def _read_npy_header(f: Any, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype]:
    if version == (1, 0):
        return npy_format.read_array_header_1_0(f)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(f)
    # 3.0 (field names beyond Latin-1) has no public header reader; numpy's own is used
    return npy_format._read_array_header(f, version)  # pyright: ignore[reportAttributeAccessIssue]
