"""The names of the cs231n linear-classifier assignment, computed through tinygrad_lc's engine.

A notebook written for that assignment imports its loss functions, its classifiers and its
gradient checks from the assignment's own files; import them from here instead and it runs
unchanged, with every gradient coming from ``backward()`` rather than a derivation by hand:

- ``svm_loss_naive``, ``svm_loss_vectorized``, ``softmax_loss_naive``,
  ``softmax_loss_vectorized``: ``(W, X, y, reg) -> (loss, dW)`` with W (D, C), X (N, D) and
  y (N,) labels in [0, C). The loss is the data loss averaged over the N examples plus
  ``reg * sum(W * W)`` (a Python float); dW is an ndarray with W's shape and dtype. The
  naive versions loop over the examples, adding one example's loss per step as the
  assignment's loops do (a graph with a few ops per example); the vectorized versions are
  ``losses.svm_loss`` and ``losses.softmax_loss`` on the whole batch. They agree to rounding.
  The SVM uses delta = 1, and a margin of exactly 0 adds nothing (``relu``'s convention).
- ``LinearSVM()`` and ``Softmax()``: ``train(X, y, learning_rate, reg, num_iters, batch_size,
  verbose)`` runs minibatch SGD and returns the loss of every step; ``predict(X)``; ``W``, the
  (D, C) weights as an ndarray once trained (no bias: append a column of ones to X, as the
  assignment does). They wrap ``models.LinearClassifier``.
- ``eval_numerical_gradient``, ``eval_numerical_gradient_array``, ``grad_check_sparse``: the
  assignment's numerical gradient checks, ``f`` taking the array; they are
  ``gradcheck.numerical_gradient`` and ``gradcheck.grad_check_sparse``.

>>> rng = np.random.default_rng(0)
>>> W, X, y = rng.normal(size=(5, 3)) * 0.01, rng.normal(size=(4, 5)), np.array([0, 2, 1, 2])
>>> loss, dW = svm_loss_naive(W, X, y, 0.1)
>>> loss_v, dW_v = svm_loss_vectorized(W, X, y, 0.1)
>>> dW.shape, abs(loss - loss_v) < 1e-12, float(np.abs(dW - dW_v).max()) < 1e-12
((5, 3), True, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc import gradcheck, losses, regularizers
from tinygrad_lc.core.checks import check_real
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck import numerical_gradient
from tinygrad_lc.losses import check_labels
from tinygrad_lc.models import LinearClassifier

__all__ = ["svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive",
           "softmax_loss_vectorized", "LinearSVM", "Softmax", "eval_numerical_gradient",
           "eval_numerical_gradient_array", "grad_check_sparse"]

DELTA = 1.0  # the SVM margin of the assignment


# ---------------------------------------------------------------------- the losses
def _inputs(where: str, W, X, y, reg) -> tuple[Tensor, np.ndarray, np.ndarray, float]:
    """W as a new leaf that requires grad, X as a 2-D real array matching it, y checked."""
    W = np.asarray(W)
    if W.dtype.kind != "f" or W.ndim != 2:
        raise TypeError(f"{where}: W must be a 2-D float array (D features, C classes), got "
                        f"{W.ndim}-D {W.dtype}")
    X = np.asarray(X)
    if X.dtype.kind not in "fiub" or X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{where}: X must be a 2-D real array (N examples, D features) with "
                         f"N > 0, got {X.ndim}-D {X.dtype} of shape {X.shape}")
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"{where}: X has shape {X.shape} and W shape {W.shape}; X's "
                         "columns (features) must match W's rows")
    y = check_labels(where, y, X.shape[0], W.shape[1])
    reg = check_real(where, "reg", reg, 0.0)
    return Tensor(W, requires_grad=True, name="W"), X, y, reg


def _finish(loss: Tensor, W: Tensor, reg: float) -> tuple[float, np.ndarray]:
    """Add ``reg * sum(W * W)``, backpropagate, return (loss, dW)."""
    loss = loss + reg * regularizers.l2(W)
    loss.backward(retain_grads=False)
    assert W.grad is not None  # W requires grad and the loss depends on it (reg * l2(W))
    return loss.item(), W.grad


def svm_loss_naive(W: ArrayLike, X: ArrayLike, y: ArrayLike, reg: float
                   ) -> tuple[float, np.ndarray]:
    """The multiclass SVM loss and its gradient, one example at a time.

    For example i with scores s = x_i W: ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1)``.
    The loss is ``mean_i L_i + reg * sum(W * W)``.

    Returns
    -------
    (loss, dW) : float, and an ndarray with W's shape and dtype.

    Examples
    --------
    >>> W = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, dW = svm_loss_naive(W, np.array([[2.0, 1.0]]), np.array([0]), 0.0)
    >>> loss, dW.tolist()  # max(0, 1 - 2 + 1) = 0: a margin of exactly 0 adds nothing
    (0.0, [[0.0, 0.0], [0.0, 0.0]])
    """
    W, X, y, reg = _inputs("svm_loss_naive", W, X, y, reg)
    classes = np.arange(W.shape[1])
    total = None
    for i in range(X.shape[0]):
        scores = Tensor(X[i]) @ W  # (C,)
        margins = scores[classes != y[i]] - scores[int(y[i])] + DELTA  # the wrong classes
        term = margins.relu().sum()
        total = term if total is None else total + term
    return _finish(total / X.shape[0], W, reg)


def svm_loss_vectorized(W: ArrayLike, X: ArrayLike, y: ArrayLike, reg: float
                        ) -> tuple[float, np.ndarray]:
    """:func:`svm_loss_naive` for the whole batch at once: ``losses.svm_loss(X @ W, y)``.

    Examples
    --------
    >>> loss, dW = svm_loss_vectorized(np.zeros((2, 3)), np.ones((4, 2)), [0, 1, 2, 0], 0.0)
    >>> loss  # all scores 0: every wrong class has margin 1, C - 1 = 2 of them
    2.0
    """
    W, X, y, reg = _inputs("svm_loss_vectorized", W, X, y, reg)
    return _finish(losses.svm_loss(Tensor(X) @ W, y, delta=DELTA), W, reg)


def softmax_loss_naive(W: ArrayLike, X: ArrayLike, y: ArrayLike, reg: float
                       ) -> tuple[float, np.ndarray]:
    """The softmax (cross-entropy) loss and its gradient, one example at a time.

    For example i with scores s = x_i W: ``L_i = -log(e^{s_{y_i}} / sum_j e^{s_j})``,
    computed as ``logsumexp(s) - s_{y_i}`` (no overflow for large scores). The loss is
    ``mean_i L_i + reg * sum(W * W)``.

    Examples
    --------
    >>> loss, dW = softmax_loss_naive(np.zeros((2, 10)), np.ones((3, 2)), [0, 1, 2], 0.0)
    >>> round(loss, 6) == round(float(np.log(10)), 6)  # equal scores: -log(1/C)
    True
    """
    W, X, y, reg = _inputs("softmax_loss_naive", W, X, y, reg)
    total = None
    for i in range(X.shape[0]):
        scores = Tensor(X[i]) @ W  # (C,)
        term = scores.logsumexp() - scores[int(y[i])]
        total = term if total is None else total + term
    return _finish(total / X.shape[0], W, reg)


def softmax_loss_vectorized(W: ArrayLike, X: ArrayLike, y: ArrayLike, reg: float
                            ) -> tuple[float, np.ndarray]:
    """:func:`softmax_loss_naive` for the whole batch: ``losses.softmax_loss(X @ W, y)``.

    Examples
    --------
    >>> loss, dW = softmax_loss_vectorized(np.zeros((2, 4)), np.ones((3, 2)), [0, 1, 3], 1.0)
    >>> round(loss, 6) == round(float(np.log(4)), 6), dW.shape
    (True, (2, 4))
    """
    W, X, y, reg = _inputs("softmax_loss_vectorized", W, X, y, reg)
    return _finish(losses.softmax_loss(Tensor(X) @ W, y), W, reg)


# ---------------------------------------------------------------------- the classifiers
class _AssignmentClassifier:
    """What ``LinearSVM`` and ``Softmax`` share: a ``models.LinearClassifier`` without bias,
    made on the first ``train`` (D from X, C from the largest label), weights starting at
    ``0.001 * standard normal``."""

    loss_name = "svm"
    vectorized = staticmethod(svm_loss_vectorized)

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self.model: LinearClassifier | None = None

    @property
    def W(self) -> np.ndarray | None:
        """The (D, C) weights (the model's own array), or None before the first ``train``."""
        return None if self.model is None else self.model.W.data

    def train(self, X: ArrayLike, y: ArrayLike, learning_rate: float = 1e-3, reg: float = 1e-5,
              num_iters: int = 100, batch_size: int = 200, verbose: bool = False
              ) -> list[float]:
        """Minibatch SGD on ``data loss + reg * sum(W * W)``; returns each step's loss.

        Each step draws ``batch_size`` rows with replacement. Later calls go on from the
        weights the earlier ones left. ``seed=None`` draws the model's seed from NumPy's
        global generator, so ``np.random.seed(...)`` makes a run repeatable.
        """
        where = f"{type(self).__name__}.train"
        if self.model is None:
            X = np.asarray(X)
            y_arr = np.asarray(y)
            if X.ndim != 2 or y_arr.dtype.kind not in "iu" or y_arr.size == 0:
                raise ValueError(f"{where}: expected X (N, D) and integer labels y (N,), got "
                                 f"X of shape {X.shape} and y of dtype {y_arr.dtype}")
            seed = self.seed if self.seed is not None else int(np.random.randint(2 ** 31))
            self.model = LinearClassifier(X.shape[1], max(int(y_arr.max()) + 1, 2),
                                          loss=self.loss_name, bias=False, weight_scale=1e-3,
                                          seed=seed)
        return self.model.train(X, y, learning_rate=learning_rate, reg=reg,
                                num_iters=num_iters, batch_size=batch_size, verbose=verbose)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The highest-scoring class of each row of X, an int64 array (N,)."""
        return self._trained("predict").predict(X)

    def loss(self, X_batch: ArrayLike, y_batch: ArrayLike, reg: float
             ) -> tuple[float, np.ndarray]:
        """(loss, dW) at the current weights: the vectorized loss of this classifier."""
        return self.vectorized(self._trained("loss").W.data, X_batch, y_batch, reg)

    def _trained(self, where: str) -> LinearClassifier:
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__}.{where}: train the classifier first "
                               "(its weights are made on the first train)")
        return self.model

    def __repr__(self) -> str:
        shape = "untrained" if self.model is None else f"W {self.model.W.shape}"
        return f"{type(self).__name__}({shape})"

    def _repr_html_(self) -> str:
        if self.model is None:
            return f"<p>{type(self).__name__}: not trained yet</p>"
        return self.model._repr_html_()


class LinearSVM(_AssignmentClassifier):
    """A linear classifier with the multiclass SVM loss (delta = 1) and L2 regularization.

    Examples
    --------
    >>> from tinygrad_lc.data import make_blobs
    >>> X, y = make_blobs(50, seed=0)
    >>> X = np.hstack([X, np.ones((len(X), 1))])  # the bias trick
    >>> svm = LinearSVM(seed=0)
    >>> loss_hist = svm.train(X, y, learning_rate=1e-1, reg=1e-3, num_iters=200)
    >>> len(loss_hist), svm.W.shape, float(np.mean(svm.predict(X) == y)) > 0.9
    (200, (3, 3), True)
    """

    loss_name = "svm"
    vectorized = staticmethod(svm_loss_vectorized)


class Softmax(_AssignmentClassifier):
    """A linear classifier with the softmax (cross-entropy) loss and L2 regularization.

    Examples
    --------
    >>> from tinygrad_lc.data import make_blobs
    >>> X, y = make_blobs(50, seed=0)
    >>> X = np.hstack([X, np.ones((len(X), 1))])
    >>> softmax = Softmax(seed=0)
    >>> _ = softmax.train(X, y, learning_rate=1e-1, reg=1e-3, num_iters=200)
    >>> float(np.mean(softmax.predict(X) == y)) > 0.9
    True
    """

    loss_name = "softmax"
    vectorized = staticmethod(softmax_loss_vectorized)


# ---------------------------------------------------------------------- gradient checks
def eval_numerical_gradient(f, x: np.ndarray, verbose: bool = True, h: float = 1e-5
                            ) -> np.ndarray:
    """Central differences of a scalar ``f(x)`` at every entry of x (perturbed in place and
    restored); with ``verbose``, each index and its value are printed.

    Examples
    --------
    >>> eval_numerical_gradient(lambda x: np.sum(x ** 2), np.array([1.0, -2.0]))
    (0,) 2.0000000000...
    (1,) -4.0000000000...
    array([ 2., -4.])
    """
    grad = numerical_gradient(f, x, h=h)
    if verbose:
        for ix in np.ndindex(grad.shape):
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x: np.ndarray, df: ArrayLike, h: float = 1e-5
                                  ) -> np.ndarray:
    """Central differences of ``sum(f(x) * df)`` for an array-valued ``f`` (the gradient a
    layer's backward gets from its upstream gradient ``df``).

    Examples
    --------
    >>> x = np.array([1.0, 2.0])
    >>> eval_numerical_gradient_array(lambda x: 3 * x, x, np.array([1.0, 10.0])).round(6)
    array([ 3., 30.])
    """
    return numerical_gradient(f, x, h=h, upstream=df)


def grad_check_sparse(f: Callable, x: np.ndarray, analytic_grad: np.ndarray,
                      num_checks: int = 10, h: float = 1e-5,
                      seed: int | None = None, verbose: bool = True) -> np.ndarray:
    """``gradcheck.grad_check_sparse`` with the assignment's signature; ``seed=None`` draws
    the entries from NumPy's global generator, so ``np.random.seed(...)`` makes the check
    repeatable, as in the assignment's notebooks.

    >>> np.random.seed(0)
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> errors = grad_check_sparse(lambda x: float(np.sum(x ** 2)), x, 2 * x, num_checks=2)
    (...): numerical ... relative error ...
    (...): numerical ... relative error ...
    >>> bool(np.all(errors < 1e-8))
    True
    """
    if seed is None:
        seed = int(np.random.randint(2 ** 31))
    return gradcheck.grad_check_sparse(f, x, analytic_grad, num_checks=num_checks, h=h,
                                       seed=seed, verbose=verbose)
