"""Data for the lecture beside CIFAR-10 (``cifar10``) and the digits (``digits``): seeded
Gaussian blobs (``make_blobs``, the 2-D toy set of ``--dataset blobs`` and the examples), and
the usual preprocessing: a seeded train/validation split, mean subtraction and the bias trick.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_lc.core.checks import check_count, check_real

__all__ = ["make_blobs", "preprocess", "train_val_split"]

def make_blobs(n_per_class: int, num_classes: int = 3,
               seed: int | np.random.Generator | None = 0, *, num_features: int = 2,
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
