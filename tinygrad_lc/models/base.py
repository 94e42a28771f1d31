"""What both classifiers (``models.LinearClassifier``, ``mlp.MLPClassifier``) check the same
way: the feature matrices they are given, and the generator states they load.

>>> features("fit", [[1, 2], [3, 4]], 2).shape
(2, 2)
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_lc.core.checks import count_nonfinite
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.losses import check_labels

__all__ = ["features", "generator_like", "batch_accuracy", "diverged", "check_loss"]


def features(where: str, X, num_features: int | None = None) -> np.ndarray:
    """X as a 2-D real ndarray (not copied), checked against ``num_features``."""
    X = np.asarray(X)  # a Tensor gives its data (Tensor.__array__), not a copy
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{where}: X must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{where}: X must be 2-D (N examples, D features) with N > 0, "
                         f"got shape {X.shape}")
    if num_features is not None and X.shape[1] != num_features:
        raise ValueError(f"{where}: X has {X.shape[1]} features per row, the model expects "
                         f"num_features={num_features} (X shape {X.shape})")
    bad = count_nonfinite(X)
    if bad:
        raise ValueError(f"{where}: X holds {bad} NaN or infinite value(s) of {X.size}; "
                         "remove or impute them first")
    return X


def generator_like(where: str, rng: np.random.Generator, state) -> np.random.Generator:
    """A new generator of ``rng``'s kind set to ``state``: a failed or partly applied state
    (NumPy sets some fields before it rejects a later one) never touches ``rng``."""
    new = np.random.Generator(type(rng.bit_generator)())
    try:
        new.bit_generator.state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise ValueError(f"{where}: cannot restore the random generator "
                         f"({type(rng.bit_generator).__name__}): {exc}") from None
    return new


def batch_accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """The fraction of rows whose highest score is at the label (a fit step's progress).

    >>> batch_accuracy(np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([1, 1]))
    0.5
    """
    return int(np.count_nonzero(scores.argmax(axis=1) == y)) / y.shape[0]


def diverged(step: int, lr: float) -> str:
    """The message of the FloatingPointError a fit raises when the scores stop being finite."""
    return (f"fit: the scores became NaN or infinite at step {step}: training diverged; "
            f"lower the learning rate (lr={lr:g})")


def check_loss(value: float, step: int, lr: float, reg: float) -> None:
    """The FloatingPointError a fit raises when a step's loss is NaN or infinite."""
    if not math.isfinite(value):
        raise FloatingPointError(
            f"fit: the loss became {value} at step {step}: training diverged; lower the "
            f"learning rate (lr={lr:g}) or reg ({reg:g})")


class ScoringMixin:
    """``scores``, ``predict`` and ``score`` for a classifier with ``_scores(X) -> Tensor``,
    ``num_features`` and ``num_classes``; messages name the classifier's class."""

    def _infer(self, where: str, X) -> np.ndarray:
        X = features(f"{type(self).__name__}.{where}", X, self.num_features)
        with no_grad():
            return self._scores(X).data

    def scores(self, X) -> np.ndarray:
        """Class scores as an (N, C) ndarray (no graph)."""
        return self._infer("scores", X)

    def predict(self, X) -> np.ndarray:
        """The highest-scoring class of each row, an int64 array (N,)."""
        return np.argmax(self._infer("predict", X), axis=1).astype(np.int64)

    def score(self, X, y) -> float:
        """Accuracy: the fraction of rows whose predicted class equals y."""
        s = self._infer("score", X)
        y = check_labels(f"{type(self).__name__}.score", y, s.shape[0], self.num_classes)
        return float(np.mean(np.argmax(s, axis=1) == y))
