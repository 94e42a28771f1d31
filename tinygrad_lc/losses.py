"""The lecture's data losses on a batch of class scores: multiclass SVM (hinge) and softmax.

Scores are (N, C): one row per example, classes last. Labels ``y`` are N integers in [0, C).
Both losses are composed from Tensor ops, so their graphs render and gradient checks exercise
the engine; each opens its own ``tg.scope`` so diagrams draw it as one cluster.

Conventions
-----------
- ``svm_loss`` computes ``max(0, margin)`` with ``relu``, whose derivative at exactly 0 is 0:
  a margin of exactly 0 adds nothing to the loss and nothing to the gradient, as in the usual
  vectorized hinge gradient ``(margins > 0)``.
- The excluded correct class enters as a constant margin of -1 (its score cancels:
  ``s_y - s_y``), so it adds exactly 0 and never sits on relu's kink.
- ``class_reduction="mean"`` divides each example's sum by the number of terms summed:
  C - 1 (the wrong classes) by default, C with ``include_correct=True``.
- ``softmax_loss`` is the natural-log cross-entropy. The lecture slide's 0.89 for the cat
  image is ``-log10(0.13)``; this module's value is ``-ln(0.13) = 2.04``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.core.checks import (
    check_choice,
    check_flag,
    check_real,
    count_nonfinite,
    float_dtype,
)
from tinygrad_lc.core.modes import scope
from tinygrad_lc.core.tensor import Tensor, host

__all__ = ["LOSSES", "data_loss", "svm_loss", "softmax_loss", "check_labels"]

LOSSES = ("svm", "softmax")  # the names data_loss knows, in the order the CLI lists them

_REDUCTIONS = ("mean", "sum", "none")
_CLASS_REDUCTIONS = ("sum", "mean")


@host  # tg.compile: the labels change per call, so their check is a step of the program
def check_labels(where: str, y, n: int, num_classes: int) -> np.ndarray:
    """Return ``y`` as a 1-D integer array of length ``n`` with values in [0, num_classes).

    ``y`` may be an integer ndarray, a list of ints or a Tensor of ints
    (``Tensor(y, dtype=np.int64)``). Anything else raises a ValueError naming ``where``.

    >>> check_labels("svm_loss", [0, 2, 1], 3, 3)
    array([0, 2, 1])
    >>> check_labels("svm_loss", np.array([0.0, 1.0]), 2, 3)
    Traceback (most recent call last):
    ...
    ValueError: svm_loss: labels y must be integers, got dtype float64...
    """
    arr = y.data if isinstance(y, Tensor) else y
    if not isinstance(arr, np.ndarray):
        try:
            arr = np.asarray(arr)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{where}: cannot read labels y of type {type(y).__name__}: {exc}"
            ) from None
    if arr.dtype.kind not in "iu":
        hint = ""
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            hint = "; the values are whole numbers, so convert them with y.astype(np.int64)"
        elif arr.dtype.kind == "f" and not arr.size:
            hint = "; an empty list becomes float64: pass np.array([], dtype=np.int64)"
        raise ValueError(
            f"{where}: labels y must be integers, got dtype {arr.dtype}{hint} "
            "(a label Tensor needs dtype=np.int64)"
        )
    if arr.shape != (n,):
        raise ValueError(
            f"{where}: labels y must have shape ({n},), one per row of scores, got {arr.shape}"
        )
    if arr.size == 0:
        return arr  # no rows, no labels to range-check (min/max of nothing is an error)
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi >= num_classes:
        bad = int(np.flatnonzero((arr < 0) | (arr >= num_classes))[0])
        raise ValueError(
            f"{where}: labels y must lie in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got values from {lo} to {hi} (first bad: y[{bad}] = {arr[bad]})"
        )
    return arr


def _check_scores(where: str, scores) -> Tensor:
    """Scores as a 2-D, non-empty, finite Tensor (ndarrays are wrapped as constants)."""
    if not isinstance(scores, Tensor):
        try:
            scores = Tensor(scores)
        except TypeError as exc:
            raise TypeError(f"{where}: scores must be a Tensor or an array, got {exc}") from None
    elif scores.dtype != float_dtype(scores.dtype):
        # integer scores (never a graph) compute in float64, as NumPy promotes them next to
        # the float margin; in their own dtype delta would truncate and uint8 would wrap
        scores = Tensor(scores.data.astype(float_dtype(scores.dtype)), name=scores.name)
    if scores.ndim != 2:
        raise ValueError(
            f"{where}: scores must be 2-D (N examples, C classes), got shape {scores.shape}"
        )
    n, c = scores.shape
    if n == 0 or c == 0:
        raise ValueError(f"{where}: scores of shape {scores.shape} hold no examples or no classes")
    _check_finite(where, scores._data)
    return scores


@host  # a step of a tg.compile program: the scores change per call
def _check_finite(where: str, s: np.ndarray) -> None:
    bad = count_nonfinite(s)
    if bad:
        raise ValueError(
            f"{where}: scores hold {bad} NaN or infinite value(s) of {s.size}; "
            "the loss would be NaN (did training diverge? try a smaller learning rate)"
        )


@host
def _label_column(y: np.ndarray) -> np.ndarray:
    """The labels as an (N, 1) column: with ``arange(N)[:, None]`` it picks ``s[i, y_i]``."""
    return y.reshape(-1, 1)


@host
def _margin_offset(y: np.ndarray, shape: tuple, delta: float, dtype, include_correct: bool):
    """The (N, C) constant added to the score differences: delta, and -1 at the correct class
    unless ``include_correct`` (a -1 margin: relu gives 0 with no kink nearby; its inputs
    cancel, s_y - s_y)."""
    offset = np.empty(shape, dtype=dtype)
    offset.fill(delta)
    if not include_correct:
        offset.reshape(-1)[np.arange(0, offset.size, shape[1]) + y] = -1.0  # at (i, y_i)
    return offset


def svm_loss(
    scores: Tensor | ArrayLike,
    y: Tensor | ArrayLike,
    delta: float = 1.0,
    squared: bool = False,
    include_correct: bool = False,
    class_reduction: str = "sum",
    reduction: str = "mean",
) -> Tensor:
    """Multiclass SVM (hinge) loss: ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + delta)``.

    Parameters
    ----------
    scores : Tensor or ndarray, shape (N, C)
        Class scores, one row per example.
    y : int ndarray, list of ints or int Tensor, shape (N,)
        Correct class of each example, in [0, C).
    delta : float
        The margin (>= 0).
    squared : bool
        Square each hinge term (the "squared hinge" / L2-SVM).
    include_correct : bool
        Also sum the term j = y_i, which is always ``delta`` (``delta**2`` when squared).
    class_reduction : {"sum", "mean"}
        Sum the terms of an example, or average them (over C - 1 terms, or C with
        ``include_correct``).
    reduction : {"mean", "sum", "none"}
        Average or sum over the examples, or return the (N,) per-example losses.

    Returns
    -------
    Tensor
        A scalar, or shape (N,) for ``reduction="none"``.

    Examples
    --------
    The lecture's cat, car and frog images (scores per row, classes cat, car, frog):

    >>> import numpy as np
    >>> s = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    >>> svm_loss(s, [0, 1, 2], reduction="none").data
    array([ 2.9,  0. , 12.9])
    >>> round(svm_loss(s, [0, 1, 2]).item(), 2)
    5.27
    """
    where = "svm_loss"
    s = _check_scores(where, scores)
    delta = check_real(where, "delta", delta, 0)
    check_flag(where, "squared", squared)
    check_flag(where, "include_correct", include_correct)
    check_choice(where, "class_reduction", class_reduction, _CLASS_REDUCTIONS)
    check_choice(where, "reduction", reduction, _REDUCTIONS)
    n, c = s.shape
    terms = c if include_correct else c - 1
    if class_reduction == "mean" and terms == 0:
        raise ValueError(
            f"{where}: class_reduction='mean' averages over the C - 1 = 0 wrong classes of "
            "scores with C = 1 column; use class_reduction='sum' or include_correct=True"
        )
    y = check_labels(where, y, n, c)

    offset = _margin_offset(y, s.shape, delta, s.dtype, include_correct)
    with scope(where):
        with scope("margins"):
            # (N, 1): s_{y_i}, picked by the pair (arange(N) as a column, y as a column); the
            # increasing row numbers make the picks distinct, so the backward scatters plainly
            correct = s[np.arange(n)[:, None], _label_column(y)]
            margins = s - correct + offset
        hinge = margins.relu()
        if squared:
            hinge = hinge**2
        total = hinge.sum(axis=1) if reduction == "none" else hinge.sum()
        divisor = (terms if class_reduction == "mean" else 1) * (n if reduction == "mean" else 1)
        return total / divisor if divisor != 1 else total


def softmax_loss(scores: Tensor | ArrayLike, y: Tensor | ArrayLike,
                 reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: ``L_i = -log(exp(s_{y_i}) / sum_j exp(s_j))`` (natural log).

    Computed as ``-log_softmax(s)[y_i]``, with the row maximum shifted out inside
    ``log_softmax``, so scores of +-1e4 give the exact, finite loss and gradient.

    Parameters
    ----------
    scores : Tensor or ndarray, shape (N, C)
    y : int ndarray, list of ints or int Tensor, shape (N,)
    reduction : {"mean", "sum", "none"}
        Average or sum over the examples, or return the (N,) per-example losses.

    Returns
    -------
    Tensor
        A scalar, or shape (N,) for ``reduction="none"``.

    Examples
    --------
    The lecture's cat image: probabilities 0.13, 0.87, 0.00, loss -ln(0.13) = 2.04.

    >>> round(softmax_loss([[3.2, 5.1, -1.7]], [0]).item(), 2)
    2.04
    >>> softmax_loss([[1e4, -1e4]], [1]).item()
    20000.0
    """
    where = "softmax_loss"
    s = _check_scores(where, scores)
    check_choice(where, "reduction", reduction, _REDUCTIONS)
    n, c = s.shape
    y = check_labels(where, y, n, c)
    with scope(where):
        picked = s.log_softmax(axis=1)[np.arange(n), y]  # log p_{y_i}: distinct (i, y_i) picks
        if reduction == "none":
            return -picked
        total = picked.sum()
        return total / -n if reduction == "mean" else -total


def data_loss(name: str, scores, y, **options) -> Tensor:
    """The data loss called ``name`` (one of ``LOSSES``) of ``scores`` and labels ``y``.

    ``options`` go to that loss, e.g. ``delta=2.0`` for ``"svm"``.

    >>> s = [[3.2, 5.1, -1.7]]
    >>> round(data_loss("svm", s, [0]).item(), 2), round(data_loss("softmax", s, [0]).item(), 2)
    (2.9, 2.04)
    """
    check_choice("data_loss", "name", name, LOSSES)
    loss = svm_loss if name == "svm" else softmax_loss
    return loss(scores, y, **options)
