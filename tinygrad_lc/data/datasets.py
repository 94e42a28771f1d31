"""The named data sets of the command line, split and preprocessed: ``load_dataset``.

Data pipeline (the same for every data set): a seeded train / validation / test split, then
``data.preprocess``: flatten, subtract the training mean, append a column of ones (the bias
trick). The model therefore has ``bias=False``: its last row of W is the bias. For the MLP
each pixel is also divided by its standard deviation, and its layers keep their own biases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_lc.data.cifar10 import load_cifar10
from tinygrad_lc.data.digits import load_digits
from tinygrad_lc.data.sources import make_blobs, preprocess, train_val_split

__all__ = ["DATASETS", "DATASET_SIZES", "CIFAR10_CLASSES", "Dataset", "load_dataset",
           "accuracy"]

DATASETS = ("digits", "cifar10", "blobs")
# What load_dataset makes of each, known before loading (so that settings can be checked
# first): training examples, features (with the bias column) and classes. cifar10: the
# official 50,000 training images less the 1,000 held out for validation.
DATASET_SIZES: dict[str, dict[str, int]] = {
    "digits": {"num_train": 1257, "num_features": 65, "num_classes": 10},
    "cifar10": {"num_train": 49_000, "num_features": 3073, "num_classes": 10},
    "blobs": {"num_train": 420, "num_features": 3, "num_classes": 3},
}
CIFAR10_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")


@dataclass
class Dataset:
    """A preprocessed data set: float rows with the bias column, int64 labels."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None  # None: not images (blobs)
    class_names: tuple[str, ...]

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sizes(self) -> dict[str, int]:
        return {"num_train": len(self.y_train), "num_val": len(self.y_val),
                "num_test": len(self.y_test)}

    def accuracies(self, model: Any) -> dict[str, float]:
        """``model``'s accuracy on each split: keys "train", "val" and "test".

        >>> d = load_dataset("blobs")
        >>> class Zero:
        ...     def predict(self, X): return np.zeros(len(X), dtype=np.int64)
        >>> sorted(d.accuracies(Zero()))
        ['test', 'train', 'val']
        """
        return {"train": accuracy(model, self.X_train, self.y_train),
                "val": accuracy(model, self.X_val, self.y_val),
                "test": accuracy(model, self.X_test, self.y_test)}


def split_rng(seed: int, which: int) -> np.random.Generator:
    """Generators for the splits, independent of the model's (which ``seed`` seeds directly)."""
    return np.random.default_rng([seed, which])


def three_way(X: np.ndarray, y: np.ndarray, num_test: int, num_val: int, seed: int):
    X_rest, y_rest, X_test, y_test = train_val_split(X, y, num_test, seed=split_rng(seed, 1))
    X_train, y_train, X_val, y_val = train_val_split(X_rest, y_rest, num_val,
                                                     seed=split_rng(seed, 2))
    return X_train, y_train, X_val, y_val, X_test, y_test


def load_dataset(name: str, seed: int = 0, *, standardize: bool = False) -> Dataset:
    """Load, split and preprocess one of ``DATASETS``.

    - digits: the 1,797 8x8 images that ship inside the package (scikit-learn's), split
      into 360 test, 180 validation and 1,257 training images (seeded by ``seed``).
    - blobs: ``data.make_blobs`` with 200 points for each of 3 classes (seeded), split into
      120 test, 60 validation and 420 training points.
    - cifar10: the official 10,000 test images; 1,000 of the 50,000 training images (a
      tenth when there are fewer than 10,000) for validation. Stored as float32 to halve the
      memory (about 600 MB).

    ``standardize=True`` also divides each pixel by its training standard deviation
    (``data.preprocess``), as the MLP's runs do.

    Examples
    --------
    >>> d = load_dataset("blobs", seed=0)
    >>> d.X_train.shape, d.X_val.shape, d.X_test.shape, d.class_names
    ((420, 3), (60, 3), (120, 3), ('0', '1', '2'))
    """

    dtype = np.float64
    if name == "digits":
        X, y = load_digits()
        parts = three_way(X, y, 360, 180, seed)
        image_shape, classes = (8, 8), tuple(str(c) for c in range(10))
    elif name == "blobs":
        X, y = make_blobs(200, num_classes=3, seed=seed)
        parts = three_way(X, y, 120, 60, seed)
        image_shape, classes = None, ("0", "1", "2")
    elif name == "cifar10":
        X_train, y_train, X_test, y_test = load_cifar10()

        num_val = 1000 if len(X_train) >= 10_000 else max(1, len(X_train) // 10)
        X_train, y_train, X_val, y_val = train_val_split(X_train, y_train, num_val,
                                                         seed=split_rng(seed, 2))
        parts = (X_train, y_train, X_val, y_val, X_test, y_test)
        image_shape, classes, dtype = (32, 32, 3), CIFAR10_CLASSES, np.float32
    else:
        raise ValueError(f"load_dataset: name must be one of {', '.join(DATASETS)}, got {name!r}")
    X_train, y_train, X_val, y_val, X_test, y_test = parts
    X_train, X_val, X_test = preprocess(X_train, X_val, X_test, bias=True, dtype=dtype,
                                        standardize=standardize)
    return Dataset(name, X_train, y_train, X_val, y_val, X_test, y_test, image_shape, classes)


def accuracy(model: Any, X: np.ndarray, y: np.ndarray, chunk: int = 5000) -> float:
    """``model``'s accuracy on (X, y), predicted in chunks so CIFAR-10 needs no big copy."""
    if len(y) == 0:
        return float("nan")
    hits = sum(int(np.sum(model.predict(X[i:i + chunk]) == y[i:i + chunk]))
               for i in range(0, len(y), chunk))
    return hits / len(y)
