"""Datasets for the lecture: CIFAR-10 (see ``cifar10``), scikit-learn's 8x8 digits, seeded
Gaussian blobs (``make_blobs``, the 2-D toy set of ``--dataset blobs`` and the examples), and
the usual preprocessing: a seeded train/validation split, mean subtraction and the bias trick.

``cached_arrays`` keeps preprocessed arrays as ``.npy`` files in the data cache and hands
them out memory-mapped, so that the worker processes of a sweep on one machine share one
copy of the training data instead of holding one each.
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

from tinygrad_lc.core.checks import check_count, check_real
from tinygrad_lc.data.cifar10 import CIFAR10_FOLDER, load_cifar10
from tinygrad_lc.util.atomic import atomic_open, atomic_write

__all__ = ["cached_arrays", "cifar10_fingerprint", "data_root", "file_fingerprint",
           "load_cifar10", "load_digits", "make_blobs", "preprocess", "train_val_split"]

CACHE_FORMAT = 1  # of the cache folders of cached_arrays
DIGITS_CACHE = "digits-v1.npy"  # in data_root(): pixels and label of each image, uint8


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the 8x8 handwritten digits shipped with scikit-learn (no download needed).

    The first call reads them through scikit-learn (whose import alone takes over a second)
    and keeps a copy in the data cache, ``data_root() / DIGITS_CACHE`` (117 KB, written
    atomically); later calls read that file in a millisecond without importing scikit-learn.
    A damaged or foreign cache file is read again from scikit-learn and replaced; a cache
    folder that cannot be written is skipped.

    Returns
    -------
    X, y : numpy.ndarray
        float64 pixels 0..16 of shape (1797, 64), ``X.reshape(-1, 8, 8)`` gives the images;
        int64 labels 0..9 of shape (1797,).

    Raises
    ------
    ImportError
        Nothing is cached yet and scikit-learn is not installed (it comes with
        ``pip install 'tinygrad_lc[demo]'``).

    Examples
    --------
    >>> X, y = load_digits()  # doctest: +SKIP
    >>> X.shape, y.shape, X.reshape(-1, 8, 8).shape  # doctest: +SKIP
    ((1797, 64), (1797,), (1797, 8, 8))
    """
    path = data_root() / DIGITS_CACHE
    cached = _read_digits(path)
    if cached is not None:
        return cached
    try:
        # scikit-learn is optional (the demo extra): imported only to read the digits
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as exc:
        raise ImportError(
            "load_digits needs scikit-learn, which is not installed; install it with "
            "pip install 'tinygrad_lc[demo]'."
        ) from exc
    bunch = sklearn_load_digits()
    X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)
    table = np.column_stack([X, y]).astype(np.uint8)
    if np.array_equal(table[:, :-1], X) and np.array_equal(table[:, -1], y):  # exact in uint8
        with contextlib.suppress(OSError):  # a read-only cache: no copy, same data
            with atomic_open(path) as f:
                np.save(f, table, allow_pickle=False)
    return X, y


def _read_digits(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached digits, or None when the file is missing or is not what load_digits wrote."""
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if table.dtype != np.uint8 or table.shape != (1797, 65) or table[:, :-1].max() > 16 \
            or table[:, -1].max() > 9:
        return None
    return table[:, :-1].astype(np.float64), table[:, -1].astype(np.int64)


def make_blobs(n_per_class: int, num_classes: int = 3, seed=0, *, num_features: int = 2,
               radius: float = 4.0, std: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded Gaussian blobs: ``num_classes`` clusters around a circle, shuffled.

    Class k is centred at ``radius * (cos 2 pi k / K, sin 2 pi k / K)`` (further features are
    0 at the centre) with spread ``std``; the defaults give linearly separable data.

    Returns
    -------
    X : float64 array (n_per_class * num_classes, num_features)
    y : int64 array (n_per_class * num_classes,)

    Examples
    --------
    >>> X, y = make_blobs(5, num_classes=3, seed=0)
    >>> X.shape, y.shape, np.bincount(y).tolist()
    ((15, 2), (15,), [5, 5, 5])
    """
    where = "make_blobs"
    n = check_count(where, "n_per_class", n_per_class, 1)
    k = check_count(where, "num_classes", num_classes, 1)
    d = check_count(where, "num_features", num_features, 2)
    radius = check_real(where, "radius", radius, 0.0)
    std = check_real(where, "std", std, 0.0)
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(k) / k
    centers = np.zeros((k, d))
    centers[:, 0], centers[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    X = centers[y] + std * rng.standard_normal((n * k, d))
    order = rng.permutation(n * k)
    return X[order], y[order]


def train_val_split(
    X: np.ndarray, y: np.ndarray, num_val: int, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off a random validation set of ``num_val`` examples.

    Parameters
    ----------
    X, y : numpy.ndarray
        Examples and labels with the same first dimension.
    num_val : int
        Number of validation examples, ``0 <= num_val < len(X)``.
    seed : int or numpy.random.Generator, optional
        Seed for ``np.random.default_rng``; the same seed gives the same split.

    Returns
    -------
    X_train, y_train, X_val, y_val : numpy.ndarray

    Examples
    --------
    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> X_train, y_train, X_val, y_val = train_val_split(X, y, num_val=2, seed=0)
    >>> X_train.shape, X_val.shape
    ((3, 2), (2, 2))
    >>> sorted(np.concatenate([y_train, y_val]).tolist())
    [0, 1, 2, 3, 4]
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(
            f"train_val_split expected X and y with the same number of examples, got shapes "
            f"{X.shape} and {y.shape}."
        )
    if isinstance(num_val, bool) or not isinstance(num_val, (int, np.integer)):
        raise ValueError(f"train_val_split expected an integer num_val, got {num_val!r}.")
    if not 0 <= num_val < len(X):
        raise ValueError(
            f"train_val_split expected 0 <= num_val < len(X) = {len(X)}, got num_val={num_val}."
        )
    order = np.random.default_rng(seed).permutation(len(X))
    val, train = order[:num_val], order[num_val:]
    return X[train], y[train], X[val], y[val]


def preprocess(
    X_train: np.ndarray, *others: np.ndarray, bias: bool = True, dtype: Any = np.float64,
    standardize: bool = False,
) -> tuple[np.ndarray, ...]:
    """Flatten, subtract the training mean image, and append a bias column of ones.

    The mean comes from ``X_train`` only, so no information leaks from validation or test
    data. Appending a constant 1 to each row (the "bias trick") folds the bias ``b`` into
    the weights: ``x @ W + b == [x, 1] @ [W; b]``.

    Parameters
    ----------
    X_train : numpy.ndarray
        Training examples, shape (N, ...) with N >= 1, e.g. (N, 32, 32, 3) uint8 images.
    *others : numpy.ndarray
        More sets (validation, test) with the same per-example shape as ``X_train``.
    bias : bool, default True
        Append a column of ones.
    dtype : numpy floating dtype, default numpy.float64
        dtype of the results (float32 halves the memory for CIFAR-10).
    standardize : bool, default False
        Also divide each pixel by its standard deviation over ``X_train`` (pixels that are
        constant there are only centred), as neural nets trained with Adam like it.

    Returns
    -------
    tuple of numpy.ndarray
        One (N_i, D + bias) array per input, in the order given. A tuple even for a single
        input, so write ``X_train, = preprocess(X_train)``.

    Examples
    --------
    >>> X = np.array([[[0, 2]], [[2, 4]]], dtype=np.uint8)  # two 1x2 images
    >>> X_train, = preprocess(X)
    >>> X_train
    array([[-1., -1.,  1.],
           [ 1.,  1.,  1.]])
    >>> X_train, X_test = preprocess(X, np.array([[[1, 1]]]), bias=False)
    >>> X_test
    array([[ 0., -2.]])
    >>> preprocess(X, standardize=True)[0]
    array([[-1., -1.,  1.],
           [ 1.,  1.,  1.]])
    """
    X_train = np.asarray(X_train)
    if X_train.ndim == 0 or len(X_train) == 0:
        raise ValueError(
            f"preprocess expected a non-empty X_train of shape (N, ...), got shape {X_train.shape}."
        )
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"preprocess expected a floating dtype, got {dtype}.")
    arrays = [X_train]
    for other in others:
        other = np.asarray(other)
        if other.shape[1:] != X_train.shape[1:] or other.ndim == 0:
            raise ValueError(
                f"preprocess expected every array to have the per-example shape "
                f"{X_train.shape[1:]} of X_train (shape {X_train.shape}), got shape {other.shape}."
            )
        arrays.append(other)
    for k, X in enumerate(arrays):
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            which = "X_train" if k == 0 else f"array {k} after X_train"
            raise ValueError(
                f"preprocess expected finite pixel values, but {which} holds "
                f"{int((~np.isfinite(X)).sum())} NaN or infinite value(s)."
            )
        if X.dtype.kind not in "fiub":
            raise TypeError(f"preprocess expected numeric images, got dtype {X.dtype}.")
    D = int(np.prod(X_train.shape[1:]))
    mean = X_train.reshape(len(X_train), D).mean(axis=0, dtype=np.float64)
    std = _pixel_std(X_train.reshape(len(X_train), D), mean) if standardize else None
    results = []
    for X in arrays:
        # Subtract straight into the output so float32 results never need a float64 copy.
        out = np.empty((len(X), D + int(bias)), dtype=dtype)
        np.subtract(X.reshape(len(X), D), mean, out=out[:, :D])
        if std is not None:
            out[:, :D] /= std
        if bias:
            out[:, D] = 1.0
        results.append(out)
    return tuple(results)


def _pixel_std(X: np.ndarray, mean: np.ndarray, chunk: int = 5000) -> np.ndarray:
    """Each column's standard deviation (1 where it is 0), in chunks: no float64 copy of X."""
    total = np.zeros_like(mean)
    for i in range(0, len(X), chunk):
        d = X[i:i + chunk] - mean
        total += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(total / len(X))
    return np.where(std > 0, std, 1.0)


def data_root() -> Path:
    """The data cache: ``$TINYGRAD_LC_DATA``, or ``~/.cache/tinygrad_lc`` when it is unset.

    >>> isinstance(data_root(), Path)
    True
    """
    return Path(os.environ.get("TINYGRAD_LC_DATA") or "~/.cache/tinygrad_lc").expanduser()


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


def cifar10_fingerprint(root: str | os.PathLike[str] | None = None) -> list[list[Any]] | None:
    """``file_fingerprint`` of the extracted CIFAR-10 batches (None before extraction)."""
    folder = (Path(root).expanduser() if root is not None else data_root()) / CIFAR10_FOLDER
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return file_fingerprint([folder / name for name in names])


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
