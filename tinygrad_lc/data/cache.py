"""The data cache: where downloads and prepared arrays live (``data_root``), and
``cached_arrays``, which keeps preprocessed arrays there as ``.npy`` files and hands them out
memory-mapped, so that the worker processes of a sweep on one machine share one copy of the
training data instead of holding one each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_lc.util.atomic import atomic_open, atomic_write

__all__ = ["CACHE_FORMAT", "DATA_ENV", "cached_arrays", "data_root", "file_fingerprint"]

CACHE_FORMAT = 1  # of the cache folders of cached_arrays
DATA_ENV = "TINYGRAD_LC_DATA"  # the environment variable that sets the data folder


def data_root() -> Path:
    """The data folder: ``$TINYGRAD_LC_DATA`` when set, else this user's cache folder.

    The cache folder is platformdirs' ``user_cache_dir("tinygrad_lc")``: ``~/.cache/tinygrad_lc``
    on Linux (or ``$XDG_CACHE_HOME/tinygrad_lc``), ``~/Library/Caches/tinygrad_lc`` on macOS,
    ``%LOCALAPPDATA%\\tinygrad_lc\\Cache`` on Windows. platformdirs comes with the
    ``cifar10`` extra (``pip install 'tinygrad_lc[cifar10]'``); without it the folder is
    ``$XDG_CACHE_HOME/tinygrad_lc`` or ``~/.cache/tinygrad_lc``, Linux's answer, everywhere.

    >>> isinstance(data_root(), Path)
    True
    """
    folder = os.environ.get(DATA_ENV)
    if folder:
        return Path(folder).expanduser()
    try:
        # platformdirs is optional (the cifar10 extra): asked only when the cache is used
        from platformdirs import user_cache_dir
    except ImportError:
        cache = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
        return Path(cache).expanduser() / "tinygrad_lc"
    return Path(user_cache_dir("tinygrad_lc", appauthor=False))


def file_fingerprint(paths: list[Path]) -> list[list[Any]] | None:
    """Name, size and modification time (ns) of each file; None when one is missing.

    A cheap stand-in for the files' content: rebuilding or replacing a file changes it.
    """
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        out.append([path.name, st.st_size, st.st_mtime_ns])
    return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX ``flock``; elsewhere no lock: the atomic
    writes keep concurrent builders from corrupting each other, they only duplicate work)."""
    try:
        # POSIX only: imported where the cache is locked, so the package imports on Windows
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _open_cached(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays of a complete cache folder, memory-mapped read-only, or None."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        arrays = {}
        for name, (shape, dtype) in manifest["arrays"].items():
            path = folder / f"{name}.npy"
            # an empty array has no bytes to map
            arr = np.load(path, mmap_mode="r" if np.prod(shape) else None, allow_pickle=False)
            if list(arr.shape) != shape or str(arr.dtype) != dtype:
                return None
            arrays[name] = arr
        return arrays, manifest["meta"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: build it again


def cached_arrays(key: Mapping[str, Any],
                  build: Callable[[], tuple[Mapping[str, np.ndarray], Mapping[str, Any]]],
                  root: str | os.PathLike[str] | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays built once per ``key`` and memory-mapped from the data cache ever after.

    The first call for a key runs ``build()`` (which returns a dict of arrays and a dict of
    JSON metadata), writes each array to ``ROOT/arrays/<hash of key>/NAME.npy`` atomically,
    then a manifest; later calls, also from other processes, map the files read-only
    (``np.load(mmap_mode="r")``): the operating system keeps one copy in memory, whatever
    the number of processes. Builders on one machine take turns (a file lock), so a second
    process waits for the first one's files instead of building its own.

    Parameters
    ----------
    key : dict
        JSON-serializable: everything the arrays depend on (data set, preprocessing, dtype,
        seed, a fingerprint of the source files). Another key is another cache entry.
    build : callable
        ``() -> (arrays, meta)``, called only when the entry is missing or damaged.
    root : path, optional
        The cache folder (default ``data_root()``).

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        Read-only memory maps (ordinary arrays when empty).
    meta : dict

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> make = lambda: ({"X": np.arange(6.0).reshape(2, 3)}, {"note": "two rows"})
    >>> arrays, meta = cached_arrays({"name": "example"}, make, root=root)
    >>> type(arrays["X"]).__name__, arrays["X"][1].tolist(), meta["note"]
    ('memmap', [3.0, 4.0, 5.0], 'two rows')
    >>> arrays["X"].flags.writeable
    False
    """
    text = json.dumps({"format": CACHE_FORMAT, **key}, sort_keys=True)
    folder = (Path(root).expanduser() if root is not None else data_root()) / "arrays" / \
        hashlib.sha256(text.encode()).hexdigest()[:24]
    found = _open_cached(folder)
    if found is not None:
        return found
    with _locked(folder.parent / f".{folder.name}.lock"):
        found = _open_cached(folder)  # built by another process while we waited
        if found is not None:
            return found
        arrays, meta = build()
        for name, arr in arrays.items():
            with atomic_open(folder / f"{name}.npy") as f:
                np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
        manifest = {"key": json.loads(text), "meta": dict(meta),
                    "arrays": {n: [list(a.shape), str(a.dtype)] for n, a in arrays.items()}}
        atomic_write(folder / "manifest.json", json.dumps(manifest, indent=1) + "\n")
        del arrays  # the caller gets the maps, not the built copies
    found = _open_cached(folder)
    if found is None:
        raise OSError(f"cached_arrays: wrote {folder} but cannot read it back")
    return found
