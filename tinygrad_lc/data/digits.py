"""The 8x8 handwritten digits, shipped inside the package: ``load_digits``.

``digits.npz`` beside this module holds the 1,797 images and labels that scikit-learn ships as
``sklearn.datasets.load_digits`` (the test set of the UCI "Optical Recognition of Handwritten
Digits" data set, E. Alpaydin and C. Kaynak, 1998, CC BY 4.0; docs/data.md has the source,
the license and how the file was made), as uint8 arrays in a compressed ``.npz`` (45 KB).
Reading it needs NumPy only: no scikit-learn, no download, no cache.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["DIGITS_FILE", "load_digits"]

DIGITS_FILE = "digits.npz"  # in this folder: "X" uint8 (1797, 64) 0..16, "y" uint8 (1797,) 0..9


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the 8x8 handwritten digits that ship inside tinygrad_lc (no download needed).

    The same numbers as scikit-learn's ``load_digits()``, read from a 45 KB file in the
    package without scikit-learn.

    Returns
    -------
    X, y : numpy.ndarray
        float64 pixels 0..16 of shape (1797, 64), ``X.reshape(-1, 8, 8)`` gives the images;
        int64 labels 0..9 of shape (1797,).

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, y.shape, X.reshape(-1, 8, 8).shape
    ((1797, 64), (1797,), (1797, 8, 8))
    >>> np.bincount(y).tolist()
    [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    """
    with resources.files("tinygrad_lc.data").joinpath(DIGITS_FILE).open("rb") as f, \
            np.load(f, allow_pickle=False) as arrays:
        X, y = arrays["X"], arrays["y"]
    return X.astype(np.float64), y.astype(np.int64)
