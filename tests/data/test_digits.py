"""Tests for tinygrad_lc/data/digits.py: the 8x8 digits shipped inside the package.

``digits.npz`` was made once from scikit-learn's copy (scikit-learn 1.9.1, in the dev
virtualenv) by ``write_digits_from_sklearn`` below; run ``python -m tests.data.test_digits``
with scikit-learn installed to make it again. The suite checks it two ways: against the
SHA-256 of the arrays recorded then (always), and against ``sklearn.datasets.load_digits``
number for number (when scikit-learn is installed; the suite does not need it).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lc import data
from tinygrad_lc.data import digits

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "tinygrad_lc" / "data" / digits.DIGITS_FILE
# sha256 of X.astype(uint8).tobytes() + y.astype(uint8).tobytes() of scikit-learn 1.9.1's digits
ARRAYS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


def write_digits_from_sklearn(path: Path) -> None:
    """Write scikit-learn's digits to ``path`` as the package ships them (uint8, compressed)."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    X, y = bunch.data.astype(np.uint8), bunch.target.astype(np.uint8)
    assert np.array_equal(X, bunch.data) and np.array_equal(y, bunch.target)  # exact in uint8
    np.savez_compressed(path, X=X, y=y)


def test_load_digits_shapes_dtypes_and_values():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.reshape(-1, 8, 8).shape == (1797, 8, 8)


def test_the_shipped_arrays_are_the_ones_taken_from_scikit_learn():
    X, y = data.load_digits()
    shipped = X.astype(np.uint8).tobytes() + y.astype(np.uint8).tobytes()
    assert hashlib.sha256(shipped).hexdigest() == ARRAYS_SHA256


def test_the_shipped_file_is_small_and_plain():
    assert SHIPPED.stat().st_size < 50_000  # compressed: 45 KB instead of 117 KB
    with np.load(SHIPPED, allow_pickle=False) as arrays:  # no pickled objects inside
        assert sorted(arrays.files) == ["X", "y"]
        assert (arrays["X"].dtype, arrays["y"].dtype) == (np.uint8, np.uint8)


def test_equal_to_scikit_learns_load_digits_exactly(tmp_path):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = sklearn_datasets.load_digits()
    X, y = data.load_digits()
    assert (X.dtype, y.dtype) == (bunch.data.dtype, bunch.target.dtype)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)
    write_digits_from_sklearn(tmp_path / "again.npz")  # the recipe still gives these arrays
    with np.load(tmp_path / "again.npz") as again, np.load(SHIPPED) as shipped:
        for name in ("X", "y"):
            np.testing.assert_array_equal(again[name], shipped[name])


def test_loading_the_digits_needs_neither_scikit_learn_nor_a_cache_folder(tmp_path):
    """On a plain `pip install` (no scikit-learn) and with a data folder that cannot be
    written, the digits load, and nothing is written anywhere."""
    blocker = tmp_path / "no_sklearn"
    blocker.mkdir()
    (blocker / "sklearn.py").write_text("raise ImportError('scikit-learn is not installed')\n")
    (tmp_path / "a_file").write_text("")
    env = {**os.environ, "TINYGRAD_LC_DATA": str(tmp_path / "a_file" / "cache"),
           "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}
    code = ("import sys; from tinygrad_lc.data import load_digits; X, y = load_digits(); "
            "print(X.shape, y.shape, 'sklearn' in sys.modules and sys.modules['sklearn'] "
            "is not None)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "(1797, 64) (1797,) False\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "no_sklearn"]


if __name__ == "__main__":  # make the shipped file again (needs scikit-learn)
    write_digits_from_sklearn(SHIPPED)
    print(f"wrote {SHIPPED} ({SHIPPED.stat().st_size:,} bytes)")
