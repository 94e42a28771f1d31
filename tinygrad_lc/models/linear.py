"""The lecture's linear classifier ``s = x W + b``, trained by minibatch SGD, and its baselines.

- ``LinearClassifier``: scores ``X @ W + b`` with W (D, C) and b (C,), the SVM or softmax data
  loss plus ``reg * R(W)`` (the bias is not regularized), trained with ``optim.SGD``.
- ``random_search``: the lecture's "strategy #1": try random weights, keep the best.

Everything random comes from one ``np.random.Generator`` per model (``model.rng``, seeded by
``seed``), so a run is reproducible, and ``state_dict()`` / ``load_state_dict()`` (weights,
generator, optimizer, step count) resume it bit for bit.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_lc import losses, regularizers
from tinygrad_lc.core.checks import check_choice, check_count, check_real, count_nonfinite
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.losses import check_labels
from tinygrad_lc.models.base import Classifier, features
from tinygrad_lc.optim import SGD

__all__ = ["LinearClassifier", "random_search"]


class LinearClassifier(Classifier):
    """A linear classifier ``scores = X @ W + b`` with the SVM or softmax loss.

    ``fit``, ``state_dict`` and ``load_state_dict`` are ``models.base.Classifier``'s; this
    class gives them W and b, the loss, and ``optim.SGD`` (with ``fit``'s ``momentum``). On
    the first step of an untrained model, ``fit`` warns (UserWarning) when the data loss is
    far (more than 10%) from its value for scores near 0: (C - 1) * delta for the SVM, ln C
    for softmax.

    Parameters
    ----------
    num_features, num_classes : int
        D and C: W has shape (D, C), b shape (C,).
    loss : {"svm", "softmax"}
    reg : float
        Regularization strength; the full loss is ``data loss + reg * regularizer(W)``.
    regularizer : {"l2", "l1", "elastic_net"}
    bias : bool
        Learn b; with False, ``b`` is None (e.g. when X already has a column of ones).
    weight_scale : float
        W starts as ``weight_scale * standard normal`` (b at 0), so initial scores are near 0.
    dtype : np.float64 or np.float32
    seed : int, np.random.SeedSequence or None
        Seeds ``self.rng``, which draws the initial W and every minibatch.
    delta : float, keyword-only
        The SVM margin.
    beta : float, keyword-only
        The elastic net's weight of ``W**2`` relative to ``|W|``.

    Attributes
    ----------
    W, b : Tensor (requires_grad)
    rng : np.random.Generator
    optimizer : optim.SGD or None
        Created by ``fit`` (None before the first fit).
    step_count : int
        SGD steps of the current run (reset by ``fit``, continued by ``fit(resume=True)``).
    last_batch_accuracy : float
        Accuracy on the minibatch of the latest ``fit`` step (before its update), for
        progress bars; NaN before the first step.

    ``state_dict()`` holds ``"W"`` (array), ``"b"`` (array or None), ``"rng"``,
    ``"optimizer"`` (``SGD.state_dict()`` or None) and ``"step_count"``.

    Examples
    --------
    >>> from tinygrad_lc.data import make_blobs
    >>> X, y = make_blobs(50, seed=0)
    >>> model = LinearClassifier(2, 3, loss="softmax", seed=0)
    >>> history = model.fit(X, y, lr=0.1, num_iters=100, batch_size=50)
    >>> model.score(X, y) > 0.9
    True
    """

    STATE_KEYS: tuple[str, ...] = ("W", "b", "rng", "optimizer", "step_count")
    optimizer_name = "sgd"  # fit trains with optim.SGD (named in load_state_dict's errors)

    def __init__(self, num_features: int, num_classes: int, loss: str = "svm", reg: float = 0.0,
                 regularizer: str = "l2", bias: bool = True, weight_scale: float = 1e-4,
                 dtype: DTypeLike = np.float64,
                 seed: int | np.random.SeedSequence | None = None, *, delta: float = 1.0,
                 beta: float = 1.0):
        where = "LinearClassifier"
        super().__init__(where, num_features, num_classes)
        self.loss_name: str = check_choice(where, "loss", loss, losses.LOSSES)
        self.reg: float = check_real(where, "reg", reg, 0.0)
        self.regularizer: str = check_choice(where, "regularizer", regularizer,
                                        regularizers.REGULARIZERS)
        self.delta: float = check_real(where, "delta", delta, 0.0)
        self.beta: float = check_real(where, "beta", beta, 0.0)
        self.weight_scale: float = check_real(where, "weight_scale", weight_scale, 0.0)
        if not isinstance(bias, bool | np.bool_):
            raise TypeError(f"{where}: bias must be True or False, got {bias!r}")
        try:
            checked_dtype: np.dtype | None = np.dtype(dtype)
        except TypeError:
            checked_dtype = None
        if checked_dtype is None or checked_dtype not in (np.float64, np.float32):
            raise TypeError(f"{where}: dtype must be np.float64 or np.float32, got {dtype!r}")
        self.dtype: np.dtype = checked_dtype
        self.rng: np.random.Generator = np.random.default_rng(seed)
        shape = (self.num_features, self.num_classes)
        w0 = self.weight_scale * self.rng.standard_normal(shape)
        self.W = Tensor(w0.astype(self.dtype), requires_grad=True, name="W")
        self.b: Tensor | None = Tensor(np.zeros(self.num_classes, self.dtype),
                                       requires_grad=True, name="b") if bias else None

    @property
    def params(self) -> list[Tensor]:
        """The trained tensors: [W, b], or [W] without bias."""
        return [self.W] if self.b is None else [self.W, self.b]

    def _settings(self) -> dict:
        return {"num_features": self.num_features, "num_classes": self.num_classes,
                "loss": self.loss_name, "reg": self.reg, "regularizer": self.regularizer,
                "bias": self.b is not None, "weight_scale": self.weight_scale,
                "dtype": self.dtype, "delta": self.delta, "beta": self.beta}

    def _state(self) -> list[tuple[str, str]]:
        return [*super()._state(), ("W", f"shape {self.W.shape}, {self.W.dtype}")]

    # ------------------------------------------------------------------ the loss
    def _forward(self, X: Tensor) -> Tensor:
        s = X @ self.W
        return s if self.b is None else s + self.b

    def _full_loss(self, scores: Tensor, y: np.ndarray) -> Tensor:
        loss = self._data_loss(scores, y)
        penalty = self._reg_loss()
        return loss if penalty is None else loss + penalty

    def _data_loss(self, scores: Tensor, y: np.ndarray) -> Tensor:
        options = {"delta": self.delta} if self.loss_name == "svm" else {}
        return losses.data_loss(self.loss_name, scores, y, **options)

    def _reg_loss(self) -> Tensor | None:
        if self.reg == 0:
            return None  # no graph for a zero penalty
        return self.reg * regularizers.penalty(self.regularizer, self.W, beta=self.beta)

    # ------------------------------------------------------------------ training
    def _new_optimizer(self, lr: float, momentum: float) -> SGD:
        return SGD(self.params, lr=lr, momentum=momentum)

    def _check_initial_loss(self, scores: Tensor, y: np.ndarray) -> None:
        """Warn when the first data loss is far from its value for scores near 0."""
        with no_grad():
            data_loss = self._data_loss(scores, y).item()
            penalty = self._reg_loss()
            reg_loss = 0.0 if penalty is None else penalty.item()
        c = self.num_classes
        if self.loss_name == "svm":
            expected, formula = (c - 1) * self.delta, f"(C - 1) * delta = {c - 1} * {self.delta:g}"
        else:
            expected, formula = math.log(c), f"ln C = ln {c}"
        # small random scores shift either loss only at second order (linear terms cancel on
        # average): 10% holds for score spreads up to ~0.5, so beyond it scores are not ~0
        if expected > 0 and abs(data_loss - expected) > 0.1 * expected:
            warnings.warn(
                f"fit: the initial data loss is {data_loss:.4g} (total {data_loss + reg_loss:.4g}"
                f" with reg), expected about {expected:.4g} = {formula} for a {self.loss_name} "
                "loss with scores near 0; check the input scaling and weight_scale",
                UserWarning, stacklevel=4,  # the caller of fit (train, when it calls fit)
            )

    def _log_step(self, step: int, num_iters: int, loss: float) -> None:
        if step % max(num_iters // 10, 1) == 0 or step == num_iters - 1:
            print(f"fit: step {step + 1}/{num_iters} loss {loss:.6g}")

    def train(self, X: ArrayLike, y: ArrayLike, learning_rate: float = 1e-3,
              reg: float | None = None,
              num_iters: int = 100, batch_size: int = 200, verbose: bool = False
              ) -> list[float]:
        """The cs231n notebook's name for :meth:`fit`: ``reg`` (when given) becomes the
        model's regularization strength, then ``fit(X, y, lr=learning_rate, ...)`` runs.

        Only the names differ: the same minibatch SGD, the same loss history returned (the
        notebook plots it). ``reg`` stays set for later calls, as the model's own attribute.
        If the call raises, ``reg`` is what it was before.

        Examples
        --------
        >>> from tinygrad_lc.data import make_blobs
        >>> X, y = make_blobs(50, seed=0)
        >>> svm = LinearClassifier(2, 3, seed=0)
        >>> loss_hist = svm.train(X, y, learning_rate=0.1, reg=1e-3, num_iters=50,
        ...                       batch_size=50)
        >>> len(loss_hist), svm.reg, svm.score(X, y) > 0.9
        (50, 0.001, True)
        """
        old = self.reg
        if reg is not None:
            self.reg = check_real("train", "reg", reg, 0.0)
        try:
            return self.fit(X, y, lr=learning_rate, num_iters=num_iters, batch_size=batch_size,
                            verbose=verbose)
        except BaseException:
            self.reg = old
            raise

    # ------------------------------------------------------------------ checkpoints
    def _own_state(self) -> dict:
        return {"W": self.W.data.copy(), "b": None if self.b is None else self.b.data.copy()}

    def _checked_state(self, where: str, d: dict) -> tuple[np.ndarray, np.ndarray | None]:
        W = self._weights_from(where, "W", d["W"], self.W.shape)
        b = d["b"]
        if (b is None) != (self.b is None):
            raise ValueError(f"{where}: b is {'None' if b is None else 'an array'}, but this "
                             f"model has {'no bias' if self.b is None else 'a bias'}")
        if b is not None and self.b is not None:
            b = self._weights_from(where, "b", b, self.b.shape)
        return W, b

    def _set_state(self, where: str, checked: tuple[np.ndarray, np.ndarray | None]) -> None:
        self.W.data, b = checked
        if self.b is not None and b is not None:  # both or neither (_checked_state)
            self.b.data = b

    def _weights_from(self, where: str, name: str, value, shape: tuple) -> np.ndarray:
        """``value`` as a new finite array of ``shape`` in the model's dtype, or a ValueError."""
        try:
            a = np.asarray(value)
        except (TypeError, ValueError):  # e.g. a ragged list
            a = np.asarray(None)
        if a.dtype.kind not in "fiu":
            raise ValueError(f"{where}: {name} must hold real numbers, got dtype {a.dtype}")
        if a.shape != shape:
            raise ValueError(f"{where}: {name} has shape {a.shape}, the model's is {shape}")
        with np.errstate(over="ignore"):  # beyond float32's range: inf, refused below
            a = np.array(a, dtype=self.dtype)  # a copy: steps must not write into the dict
        bad = count_nonfinite(a)
        if bad:
            raise ValueError(f"{where}: {name} holds {bad} NaN or infinite value(s) "
                             f"(as {self.dtype}); a saved model's weights are always finite")
        return a


def random_search(X: ArrayLike, y: ArrayLike | Tensor, loss: str = "svm", num_tries: int = 1000,
                  scale: float = 1e-4, seed: int | np.random.Generator | None = None, *,
                  num_classes: int | None = None) -> tuple[np.ndarray, float]:
    """The lecture's "strategy #1": draw random W (D, C), keep the one with the lowest loss.

    C is ``num_classes``, or ``y.max() + 1`` when not given; there is no bias (append a
    column of ones to X for one). The loss is the data loss only (SVM with delta 1, or
    softmax), evaluated without a graph.

    Returns
    -------
    (W, loss) : the best weights, shape (D, C), and their loss.

    Examples
    --------
    >>> from tinygrad_lc.data import make_blobs
    >>> X, y = make_blobs(20, seed=0)
    >>> W, best = random_search(X, y, num_tries=10, scale=0.1, seed=0)
    >>> W.shape, best < 2.0  # below (C - 1) * delta, the loss of W = 0
    ((2, 3), True)
    """
    where = "random_search"
    X = features(where, X)
    check_choice(where, "loss", loss, losses.LOSSES)
    num_tries = check_count(where, "num_tries", num_tries, 1)
    scale = check_real(where, "scale", scale, lo_open=True)
    y_arr = y.data if isinstance(y, Tensor) else np.asarray(y)
    # C from the labels; check_labels then reports a bad dtype, shape or negative label
    if num_classes is None:
        num_classes = int(y_arr.max()) + 1 if y_arr.dtype.kind in "iu" and y_arr.size else 1
    else:
        num_classes = check_count(where, "num_classes", num_classes, 1)
    y_arr = check_labels(where, y_arr, X.shape[0], num_classes)
    rng = np.random.default_rng(seed)
    Xt = Tensor(X.astype(np.float64, copy=False))
    best_W, best = None, math.inf
    with no_grad():
        for _ in range(num_tries):
            W = scale * rng.standard_normal((X.shape[1], num_classes))
            value = losses.data_loss(loss, Xt @ W, y_arr).item()
            if value < best:
                best_W, best = W, value
    assert best_W is not None  # num_tries >= 1
    return best_W, best
