"""The lecture's data losses on a batch of class scores: multiclass SVM (hinge) and softmax.

The multiclass SVM comes in three formulations (``svm_loss(..., formulation=...)``), each a
sum of hinges ``max(0, .)`` on the scores s of one example with correct class y:

- ``"weston_watkins"`` (the lecture's): ``L = sum_{j != y} max(0, s_j - s_y + delta)``;
- ``"one_vs_all"``: ``L = sum_j max(0, delta - t_j s_j)``, ``t_y = +1``, ``t_j = -1`` else:
  C independent binary SVMs, each score on its own side of 0 by delta;
- ``"crammer_singer"`` (the "structured SVM"): ``L = max(0, max_{j != y} s_j - s_y + delta)``:
  only the strongest wrong class counts.

Scores are (N, C): one row per example, classes last. Labels ``y`` are N integers in [0, C).
Both losses are composed from Tensor ops, so their graphs render and gradient checks exercise
the engine; each opens its own ``tg.scope`` so diagrams draw it as one cluster.

Conventions
-----------
- ``svm_loss`` computes ``max(0, margin)`` with ``relu``, whose derivative at exactly 0 is 0:
  a margin of exactly 0 adds nothing to the loss and nothing to the gradient, as in the usual
  vectorized hinge gradient ``(margins > 0)``. Crammer-Singer's ``max_{j != y}`` is the
  ``max`` reduction: wrong classes tied for the largest margin share its gradient evenly.
- The excluded correct class enters as a constant margin of -1 (its score cancels:
  ``s_y - s_y``), so it adds exactly 0 and never sits on relu's kink.
- ``class_reduction="mean"`` divides each example's sum by the number of terms summed:
  C - 1 (the wrong classes) by default, C with ``include_correct=True``.
- ``softmax_loss`` is the natural-log cross-entropy. The lecture slide's 0.89 for the cat
  image is ``-log10(0.13)``; this module's value is ``-ln(0.13) = 2.04``.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["LOSSES", "FORMULATIONS", "data_loss", "svm_loss", "softmax_loss",
           "check_labels"]

LOSSES = ("svm", "softmax")  # the names data_loss knows, in the order the CLI lists them

_REDUCTIONS = ("mean", "sum", "none")
_CLASS_REDUCTIONS = ("sum", "mean")
FORMULATIONS = ("weston_watkins", "one_vs_all", "crammer_singer")  # svm_loss(formulation=...)


@host  # tg.compile: the labels change per call, so their check is a step of the program
def check_labels(where: str, y: Tensor | ArrayLike, n: int, num_classes: int) -> np.ndarray:
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


@host
def _target_signs(y: np.ndarray, shape: tuple, dtype) -> np.ndarray:
    """The (N, C) targets t of one-vs-all: +1 at the correct class (i, y_i), -1 elsewhere."""
    signs = np.full(shape, -1.0, dtype=dtype)
    signs.reshape(-1)[np.arange(0, signs.size, shape[1]) + y] = 1.0
    return signs


@host
def _wrong_columns(y: np.ndarray, num_classes: int) -> np.ndarray:
    """The (N, C - 1) column numbers j != y_i of each row, in order: k, or k + 1 from y_i on."""
    k = np.arange(num_classes - 1)[None, :]
    return k + (k >= y[:, None])


def _check_formulation(where: str, formulation, include_correct: bool,
                       class_reduction: str, c: int) -> None:
    """Refuse the options that mean nothing for ``formulation`` (they are never ignored)."""
    check_choice(where, "formulation", formulation, FORMULATIONS)
    if include_correct and formulation != "weston_watkins":
        raise ValueError(
            f"{where}: include_correct=True is an option of formulation='weston_watkins' only; "
            f"{formulation!r} "
            + ("already sums every class j, the correct one included" if formulation ==
               "one_vs_all" else "takes one term per example, the largest wrong margin")
        )
    if formulation == "crammer_singer":
        if class_reduction != "sum":
            raise ValueError(
                f"{where}: class_reduction={class_reduction!r} does not apply to "
                "formulation='crammer_singer', which has one term per example (the largest "
                "wrong margin); leave class_reduction='sum'"
            )
        if c < 2:
            raise ValueError(
                f"{where}: formulation='crammer_singer' needs a wrong class to take the max "
                f"over, got scores with C = {c} column"
            )


def svm_loss(
    scores: Tensor | ArrayLike,
    y: Tensor | ArrayLike,
    delta: float = 1.0,
    squared: bool = False,
    include_correct: bool = False,
    class_reduction: str = "sum",
    reduction: str = "mean",
    formulation: str = "weston_watkins",
) -> Tensor:
    """Multiclass SVM (hinge) loss: ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + delta)``.

    That is the Weston-Watkins formulation, the lecture's and the default; ``formulation``
    picks one of the other two (see the module docstring).

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
    formulation : {"weston_watkins", "one_vs_all", "crammer_singer"}
        ``"weston_watkins"``: ``sum_{j != y_i} max(0, s_j - s_{y_i} + delta)``;
        ``"one_vs_all"``: ``sum_j max(0, delta - t_ij s_j)`` with ``t_ij = +1`` for
        ``j = y_i`` and -1 otherwise (``class_reduction="mean"`` divides by C);
        ``"crammer_singer"``: ``max(0, max_{j != y_i} s_j - s_{y_i} + delta)``. An option
        that does not apply (``include_correct`` beyond Weston-Watkins, a class mean of
        Crammer-Singer's single term) is a ValueError.

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
    >>> svm_loss(s, [0, 1, 2], reduction="none", formulation="one_vs_all").data
    array([ 6.1,  5.3, 10.8])
    >>> svm_loss(s, [0, 1, 2], reduction="none", formulation="crammer_singer").data
    array([2.9, 0. , 6.6])
    """
    where = "svm_loss"
    s = _check_scores(where, scores)
    delta = check_real(where, "delta", delta, 0)
    check_flag(where, "squared", squared)
    check_flag(where, "include_correct", include_correct)
    check_choice(where, "class_reduction", class_reduction, _CLASS_REDUCTIONS)
    check_choice(where, "reduction", reduction, _REDUCTIONS)
    n, c = s.shape
    _check_formulation(where, formulation, include_correct, class_reduction, c)
    terms = {"weston_watkins": c if include_correct else c - 1, "one_vs_all": c,
             "crammer_singer": 1}[formulation]
    if class_reduction == "mean" and terms == 0:
        raise ValueError(
            f"{where}: class_reduction='mean' averages over the C - 1 = 0 wrong classes of "
            "scores with C = 1 column; use class_reduction='sum' or include_correct=True"
        )
    y = check_labels(where, y, n, c)

    with scope(where):
        with scope("margins"):
            margins = _margins(formulation, s, y, delta, include_correct)
        if formulation == "crammer_singer":
            margins = margins.max(axis=1, keepdims=True)  # (N, 1): the largest wrong margin
        hinge = margins.relu()
        if squared:
            hinge = hinge**2
        total = hinge.sum(axis=1) if reduction == "none" else hinge.sum()
        divisor = (terms if class_reduction == "mean" else 1) * (n if reduction == "mean" else 1)
        return total / divisor if divisor != 1 else total


def _margins(formulation: str, s: Tensor, y: np.ndarray, delta: float,
             include_correct: bool) -> Tensor:
    """The hinges' arguments: (N, C), or (N, C - 1) wrong classes for Crammer-Singer."""
    n, c = s.shape
    rows = np.arange(n)[:, None]
    if formulation == "one_vs_all":
        # delta - t_ij s_ij: the correct score should reach +delta, the others -delta
        return delta - s * _target_signs(y, s.shape, s.dtype)
    # (N, 1): s_{y_i}, picked by the pair (arange(N) as a column, y as a column); the
    # increasing row numbers make the picks distinct, so the backward scatters plainly
    correct = s[rows, _label_column(y)]
    if formulation == "crammer_singer":
        return s[rows, _wrong_columns(y, c)] - correct + delta  # s_j - s_{y_i} + delta, j != y_i
    return s - correct + _margin_offset(y, s.shape, delta, s.dtype, include_correct)


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


def data_loss(name: str, scores: Tensor | ArrayLike, y: Tensor | ArrayLike,
              **options: Any) -> Tensor:
    """The data loss called ``name`` (one of ``LOSSES``) of ``scores`` and labels ``y``.

    ``options`` go to that loss, e.g. ``delta=2.0`` for ``"svm"``.

    >>> s = [[3.2, 5.1, -1.7]]
    >>> round(data_loss("svm", s, [0]).item(), 2), round(data_loss("softmax", s, [0]).item(), 2)
    (2.9, 2.04)
    """
    check_choice("data_loss", "name", name, LOSSES)
    loss = svm_loss if name == "svm" else softmax_loss
    return loss(scores, y, **options)
