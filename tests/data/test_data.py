"""Tests for tinygrad_lc/data/sources.py: make_blobs, preprocess and train_val_split (the
digits are in test_digits.py, CIFAR-10 in test_cifar10.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lc import data


# ----------------------------------------------------------------------------- make_blobs
def test_make_blobs_shapes_balance_and_seed():
    X, y = data.make_blobs(20, num_classes=4, seed=1, num_features=3)
    assert X.shape == (80, 3) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [20] * 4
    X2, y2 = data.make_blobs(20, num_classes=4, seed=1, num_features=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(data.make_blobs(20, 4, seed=2, num_features=3)[0], X)
    centers = np.array([X[y == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(np.linalg.norm(centers[:, :2], axis=1), 4.0, atol=0.6)
    assert np.all(np.abs(centers[:, 2]) < 0.6)  # extra features are centred on 0


@pytest.mark.parametrize("kw,error,text", [
    ({"n_per_class": 0}, ValueError, "n_per_class must be an integer >= 1"),
    ({"n_per_class": 2.5}, TypeError, "n_per_class"),
    ({"n_per_class": 5, "num_classes": 0}, ValueError, "num_classes"),
    ({"n_per_class": 5, "num_features": 1}, ValueError, "num_features must be an integer >= 2"),
    ({"n_per_class": 5, "std": -1.0}, ValueError, "std must be a finite number >= 0"),
])
def test_make_blobs_validates(kw, error, text):
    with pytest.raises(error, match="make_blobs") as info:
        data.make_blobs(**kw)
    assert text in str(info.value)


# ----------------------------------------------------------------------------- preprocess


def test_preprocess_uses_training_mean_only():
    X_train = np.array([[[0, 10]], [[2, 30]]], dtype=np.uint8)  # mean image [1, 20]
    X_test = np.array([[[1, 20]], [[255, 0]]], dtype=np.uint8)
    tr, te = preprocess_pair = data.preprocess(X_train, X_test)
    assert len(preprocess_pair) == 2
    np.testing.assert_array_equal(tr, [[-1, -10, 1], [1, 10, 1]])
    np.testing.assert_array_equal(te, [[0, 0, 1], [254, -20, 1]])  # uint8 does not wrap
    assert tr.dtype == np.float64 and te.dtype == np.float64


def test_preprocess_keeps_order_and_honours_dtype_and_bias():
    rng = np.random.default_rng(1)
    X_train, X_val, X_test = (rng.integers(0, 256, (n, 2, 2, 3)) for n in (5, 2, 3))
    out = data.preprocess(X_train, X_val, X_test, bias=False, dtype=np.float32)
    mean = X_train.reshape(5, -1).mean(axis=0)
    assert [a.shape for a in out] == [(5, 12), (2, 12), (3, 12)]
    assert all(a.dtype == np.float32 for a in out)
    for got, X in zip(out, (X_train, X_val, X_test), strict=True):
        np.testing.assert_allclose(got, X.reshape(len(X), -1) - mean, rtol=1e-6)
    with_bias = data.preprocess(X_train, X_test, dtype=np.float32)
    assert with_bias[1].shape == (3, 13) and (with_bias[1][:, -1] == 1).all()
    np.testing.assert_allclose(with_bias[0][:, :-1].mean(axis=0), 0, atol=1e-4)


def test_preprocess_single_input_returns_tuple():
    result = data.preprocess(np.ones((3, 2)))
    assert isinstance(result, tuple) and len(result) == 1
    (X,) = result
    np.testing.assert_array_equal(X, [[0, 0, 1]] * 3)


def test_preprocess_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="preprocess") as info:
        data.preprocess(np.zeros((4, 2, 3)), np.zeros((5, 3, 2)))
    assert "(4, 2, 3)" in str(info.value) and "(5, 3, 2)" in str(info.value)


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.float64(1.0)])
def test_preprocess_rejects_empty_train(bad):
    with pytest.raises(ValueError, match="preprocess expected a non-empty X_train"):
        data.preprocess(bad)


def test_preprocess_rejects_integer_dtype():
    with pytest.raises(ValueError, match="floating dtype"):
        data.preprocess(np.zeros((2, 2)), dtype=np.int32)


# ----------------------------------------------------------------------------- split


def test_train_val_split_sizes_disjoint_covering_and_paired():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 7
    X_tr, y_tr, X_val, y_val = data.train_val_split(X, y, num_val=3, seed=0)
    assert X_tr.shape == (7, 2) and X_val.shape == (3, 2) and y_tr.shape == (7,)
    assert set(y_tr.tolist()).isdisjoint(y_val.tolist())
    assert sorted([*y_tr.tolist(), *y_val.tolist()]) == y.tolist()
    np.testing.assert_array_equal(X_tr[:, 0] // 2 * 7, y_tr)  # rows stay with their labels
    np.testing.assert_array_equal(X_val[:, 0] // 2 * 7, y_val)


def test_train_val_split_is_reproducible():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    a = data.train_val_split(X, y, 10, seed=42)
    b = data.train_val_split(X, y, 10, seed=42)
    c = data.train_val_split(X, y, 10, seed=43)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    assert not np.array_equal(a[1], y[:40])  # actually shuffled


def test_train_val_split_zero_val():
    X_tr, y_tr, X_val, y_val = data.train_val_split(np.ones((4, 2)), np.arange(4), 0, seed=0)
    assert X_tr.shape == (4, 2) and X_val.shape == (0, 2) and y_val.shape == (0,)


@pytest.mark.parametrize(
    "n_y, num_val, match",
    [(5, -1, "num_val=-1"), (5, 5, "num_val=5"), (5, 9, "len\\(X\\) = 5"),
     (4, 1, "same number of examples"), (5, 1.5, "integer num_val")],
)
def test_train_val_split_rejects_bad_arguments(n_y, num_val, match):
    with pytest.raises(ValueError, match="train_val_split") as info:
        data.train_val_split(np.zeros((5, 2)), np.zeros(n_y), num_val)
    assert info.match(match)
