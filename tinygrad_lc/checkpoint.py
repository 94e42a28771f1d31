"""Checkpoints: a nested state (dicts, lists, numbers, strings, arrays) in one ``.npz`` file.

Arrays go into the archive as they are; everything else (configuration, step counters, the
state of an ``np.random.Generator``) goes into one JSON string stored beside them. Nothing is
pickled, so a checkpoint is read with ``np.load(..., allow_pickle=False)`` and loading a file
from an untrusted source cannot run code.

Saving is atomic (``atomic.atomic_open``): the archive is written to a temporary file in the
same folder, flushed to disk with ``fsync`` and moved over the old checkpoint with
``os.replace``. A crash mid-save leaves the previous checkpoint as it was.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_open

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "tinygrad_lc.checkpoint"
VERSION = 1
_META = "__meta__"  # archive entry holding the JSON description of the state
_ARRAY_TAG = "__array__"  # {"__array__": "entry"} marks where an array sat in the tree
_PAIRS_TAG = "__pairs__"  # {"__pairs__": [[key, value], ...]}: a dict with non-string keys


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, foreign or does not fit the current run."""


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """Turn ``value`` into JSON-ready data; arrays move into ``arrays`` under fresh names."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"save_checkpoint: {where} is an object array, which needs pickle")
        name = f"a{len(arrays)}"
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
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not ({_ARRAY_TAG, _PAIRS_TAG} & set(value)):
            return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
        return {_PAIRS_TAG: [[_encode(k, arrays, f"{where} key"), _encode(v, arrays, where)]
                             for k, v in value.items()]}
    raise TypeError(
        f"save_checkpoint: {where} is a {type(value).__name__}; expected dicts, lists, numbers, "
        "strings, None or numpy arrays"
    )


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
    np.savez(f, **arrays)


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
        ``.npz`` archive that was not written by :func:`save_checkpoint`. The message names
        the file and what is wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "foreign.npz"
    >>> np.savez(path, x=np.zeros(3))
    >>> load_checkpoint(path)
    Traceback (most recent call last):
    ...
    tinygrad_lc.checkpoint.CheckpointError: load_checkpoint: .../foreign.npz is not a \
tinygrad_lc checkpoint: it is an .npz archive without the '__meta__' entry (it holds: x)
    """
    path = Path(path)

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
        with np.load(path, allow_pickle=False) as npz:
            # Read every entry now: a truncated or corrupt member only shows up when read.
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise fail(f"is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise fail("holds pickled objects, which checkpoints never do; refusing to "
                       "unpickle them") from exc
        raise fail(f"is truncated or corrupt ({exc})") from exc
    if _META not in arrays:
        held = ", ".join(sorted(arrays)) or "nothing"
        raise fail(f"is not a tinygrad_lc checkpoint: it is an .npz archive without the "
                   f"{_META!r} entry (it holds: {held})")
    meta_array = arrays.pop(_META)
    try:
        meta = json.loads(str(meta_array[()]))
    except (json.JSONDecodeError, IndexError, TypeError) as exc:
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
