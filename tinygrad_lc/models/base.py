"""What both classifiers (``linear.LinearClassifier``, ``mlp.MLPClassifier``) share.

- ``Classifier``: the minibatch training loop (``fit``), the learning-rate decay, and the
  checkpoint scheme (``state_dict`` / ``load_state_dict``). A classifier built on it supplies
  only its parameters, its loss graph and the optimizer it trains them with.
- ``ScoringMixin``: ``scores``, ``predict`` and ``score`` from the class scores.
- The checks both make the same way: of the feature matrices they are given, of the generator
  states they load, and of a training step's scores and loss.

>>> features("fit", [[1, 2], [3, 4]], 2).shape
(2, 2)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.compile.compiled import compile as compile_fn
from tinygrad_lc.core.checks import check_count, check_flag, check_real, count_nonfinite
from tinygrad_lc.core.display import clip_text, html_fields
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.core.tensor import Tensor, host
from tinygrad_lc.losses import check_labels

if TYPE_CHECKING:
    from tinygrad_lc.optim import Optimizer

__all__ = ["Classifier", "ScoringMixin", "NonFiniteScores", "features", "generator_like",
           "batch_accuracy", "diverged", "at_start", "check_loss", "check_finite_scores",
           "check_flag", "setting_text", "same_setting"]


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


def at_start(what: str, model: Any, X: np.ndarray, trained: bool) -> str:
    """The message of the FloatingPointError a fit raises when the scores or the loss are NaN
    or infinite at step 0 of a run, before any update: the learning rate cannot be the cause,
    the weights the run starts from (or the data) are. ``what``: "scores are", "loss is"."""
    biggest = max(float(np.max(np.abs(p.data))) for p in model.params)
    scale = getattr(model, "weight_scale", None)
    start = ("the weights it starts from (trained by an earlier fit)" if trained else
             "the initial weights" + (f" (weight_scale={scale:g})" if scale is not None else ""))
    advice = "" if trained else "; lower weight_scale (train's --weight-scale)"
    return (f"fit: the {what} NaN or infinite at step 0, before any update, so the learning "
            f"rate is not the cause: {start}, largest |w| = {biggest:.3g}, are too large for "
            f"the data, largest |x| = {float(np.max(np.abs(X))):.3g}{advice}")


def check_loss(value: float, step: int, lr: float, reg: float) -> None:
    """The FloatingPointError a fit raises when a step's loss is NaN or infinite."""
    if not math.isfinite(value):
        raise FloatingPointError(
            f"fit: the loss became {value} at step {step}: training diverged; lower the "
            f"learning rate (lr={lr:g}) or reg ({reg:g})")


class NonFiniteScores(FloatingPointError):
    """A ``fit`` step found NaN or inf scores (``fit`` says which step)."""


@host  # a step of the compiled fit: the scores change every step
def check_finite_scores(s: np.ndarray) -> None:
    """Raise NonFiniteScores when ``s`` holds NaN or inf (training diverged)."""
    if not np.isfinite(s).all():
        raise NonFiniteScores("the scores hold NaN or inf")


def setting_text(v: Any) -> str:
    """A setting as the code that gives it: ``'svm'``, ``0.001``, ``np.float32``.

    >>> setting_text(np.dtype(np.float32)), setting_text("svm"), setting_text((100,))
    ('np.float32', "'svm'", '(100,)')
    """
    if isinstance(v, np.dtype):
        return f"np.{v.name}"
    return repr(v)


def same_setting(value: Any, default: Any) -> bool:
    """Whether a setting equals its default (a dtype equals the type it was given as).

    >>> same_setting(np.dtype(np.float64), np.float64), same_setting(1, True)
    (True, False)
    """
    if isinstance(value, np.dtype):
        return value == np.dtype(default)
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return type(value) is type(default) and value == default


class ScoringMixin:
    """``scores``, ``predict`` and ``score`` for a classifier with ``_scores(X) -> Tensor``,
    ``num_features`` and ``num_classes``; messages name the classifier's class."""

    num_features: int
    num_classes: int

    def _scores(self, X: np.ndarray) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _infer(self, where: str, X) -> np.ndarray:
        X = features(f"{type(self).__name__}.{where}", X, self.num_features)
        with no_grad():
            return self._scores(X).data

    def scores(self, X: ArrayLike) -> np.ndarray:
        """Class scores as an (N, C) ndarray (no graph)."""
        return self._infer("scores", X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The highest-scoring class of each row, an int64 array (N,)."""
        return np.argmax(self._infer("predict", X), axis=1).astype(np.int64)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy: the fraction of rows whose predicted class equals y."""
        s = self._infer("score", X)
        y = check_labels(f"{type(self).__name__}.score", y, s.shape[0], self.num_classes)
        return float(np.mean(np.argmax(s, axis=1) == y))


class Classifier(ScoringMixin):
    """A classifier trained by minibatches: the loop, the decay and the checkpoints.

    A subclass sets, in its ``__init__`` (after ``super().__init__``), ``reg``, ``dtype``,
    ``rng`` (the one generator: initial weights, then every minibatch) and its parameters,
    and supplies what differs between models:

    - ``_forward(X: Tensor) -> Tensor``: the class scores (N, C) of a batch;
    - ``_full_loss(scores, y) -> Tensor``: the data loss plus the regularization;
    - ``_new_optimizer(lr, momentum)`` and ``optimizer_name``: the optimizer ``fit`` trains
      the parameters with, and its name in ``load_state_dict``'s messages;
    - ``STATE_KEYS``, ``_own_state()``, ``_checked_state(where, d)`` and
      ``_set_state(where, checked)``: its own checkpoint entries (see ``load_state_dict``);
    - optionally ``_start_run()``, ``_check_initial_loss(scores, y)``, ``_end_epoch(...)``
      and ``_log_step(...)``: what it does at the start of a run, on its first step, after
      each epoch and after each step with ``verbose`` (nothing here).

    Attributes
    ----------
    num_features, num_classes : int
    optimizer : the optimizer, or None before the first ``fit`` (or ``load_state_dict``)
    step_count : int
        Steps of the current run (reset by ``fit``, continued by ``fit(resume=True)``).
    last_batch_accuracy : float
        Accuracy on the minibatch of the latest ``fit`` step (before its update), for
        progress bars; NaN before the first step.

    Examples
    --------
    A run stopped after 8 steps and restored into another model ends, 12 steps later, with
    the weights of a run of 20 steps, bit for bit:

    >>> from tinygrad_lc.data import make_blobs
    >>> from tinygrad_lc.models import LinearClassifier
    >>> X, y = make_blobs(50, seed=0)
    >>> fit = dict(lr=0.1, batch_size=30, momentum=0.9, lr_decay=0.9)
    >>> straight = LinearClassifier(2, 3, seed=0)
    >>> _ = straight.fit(X, y, num_iters=20, **fit)
    >>> first = LinearClassifier(2, 3, seed=0)
    >>> _ = first.fit(X, y, num_iters=8, **fit)
    >>> resumed = LinearClassifier(2, 3, seed=1)
    >>> resumed.load_state_dict(first.state_dict())
    >>> _ = resumed.fit(X, y, num_iters=12, resume=True, **fit)
    >>> bool((resumed.W.data == straight.W.data).all()), resumed.step_count
    (True, 20)
    """

    STATE_KEYS: tuple[str, ...] = ("rng", "optimizer", "step_count")  # a subclass adds its own
    rng: np.random.Generator  # set by each subclass's constructor, as are these
    dtype: np.dtype
    reg: float
    optimizer_name: str

    def __init__(self, where: str, num_features: int, num_classes: int) -> None:
        self.num_features: int = check_count(where, "num_features", num_features, 1)
        self.num_classes: int = check_count(where, "num_classes", num_classes, 2)
        self.optimizer: Optimizer | None = None
        self.step_count: int = 0
        self.last_batch_accuracy: float = float("nan")

    # ------------------------------------------------------------------ how it shows
    def _settings(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError  # each model's constructor arguments, by name

    def _state(self) -> list[tuple[str, str]]:
        """What training changed, as (name, text) rows: the steps taken."""
        return [("trained", f"{self.step_count:,} steps" if self.step_count else "not yet")]

    def __repr__(self) -> str:
        """The constructor call, scikit-learn style: the sizes, and the settings that differ
        from their defaults."""
        defaults = {k: p.default for k, p in
                    inspect.signature(type(self).__init__).parameters.items()}
        shown = [f"{k}={setting_text(v)}" for k, v in self._settings().items()
                 if defaults.get(k, inspect.Parameter.empty) is inspect.Parameter.empty
                 or not same_setting(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(shown)})"

    def _repr_html_(self) -> str:
        """Jupyter's view: every setting, then what training changed (escaped HTML)."""
        rows = [(k, clip_text(setting_text(v))) for k, v in self._settings().items()]
        return html_fields(type(self).__name__, rows + self._state())

    # ------------------------------------------------------------------ the loss
    def _forward(self, X: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError  # each model computes its own scores

    def _full_loss(self, scores: Tensor, y: np.ndarray) -> Tensor:  # pragma: no cover
        raise NotImplementedError  # each model has its own loss and regularizer

    def _scores(self, X: np.ndarray) -> Tensor:
        return self._forward(Tensor(X.astype(self.dtype, copy=False), name="X"))

    def _batch_loss(self, X: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
        """The minibatch loss and scores of a ``fit`` step (X already in the model's dtype);
        ``fit(compile=True)`` compiles this function, ``compile=False`` calls it."""
        scores = self._forward(Tensor(X, name="X"))
        check_finite_scores(scores._data)
        return self._full_loss(scores, y), scores

    def loss(self, X: ArrayLike, y: ArrayLike) -> Tensor:
        """The full loss on (X, y), data loss plus regularization, with its graph."""
        where = f"{type(self).__name__}.loss"
        X = features(where, X, self.num_features)
        y = check_labels(where, y, X.shape[0], self.num_classes)
        return self._full_loss(self._scores(X), y)

    # ------------------------------------------------------------------ training
    def _new_optimizer(self, lr: float, momentum: float) -> Optimizer:  # pragma: no cover
        raise NotImplementedError  # each model picks its optimizer

    def _check_optimizer_kind(self, opt: Optimizer) -> None:
        """A ValueError when a loaded optimizer state is not of the kind this model trains
        with (``load_state_dict``; the optimizer's own load checks its class)."""

    def _start_run(self) -> None:
        """A new (not resumed) run starts: reset what the model records per run."""

    def _check_initial_loss(self, scores: Tensor, y: np.ndarray) -> None:
        """Check the first step of an untrained model (its scores, before the update)."""

    def _end_epoch(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None,
                   y_val: np.ndarray | None, verbose: bool) -> None:
        """An epoch ended (after its learning-rate decay): record or print its progress."""

    def _log_step(self, step: int, num_iters: int, loss: float) -> None:
        """A step ended in a ``fit(verbose=True)``: print its progress."""

    def fit(self, X: ArrayLike, y: ArrayLike, lr: float = 1e-3, num_iters: int = 1000,
            batch_size: int = 200, momentum: float = 0.0, lr_decay: float = 1.0,
            verbose: bool = False, callback: Callable[[int, float], object] | None = None, *,
            resume: bool = False, compile: bool = True) -> list[float]:  # noqa: A002
        """Train by minibatches; return the loss of every step.

        Each step draws ``batch_size`` rows of X with replacement (from ``self.rng``),
        computes the full loss, backpropagates and takes one optimizer step. After every
        ``max(N // batch_size, 1)`` steps (one epoch) the learning rate is multiplied by
        ``lr_decay``. ``callback(step, loss)`` runs after each update with the step's index
        in the run (0-based) and the minibatch loss before the update (the value in the
        history).

        With ``resume=True`` the existing ``self.optimizer`` (its lr and state) and
        ``self.step_count`` carry on, and ``lr`` and ``momentum`` are not used: a run
        restored with ``load_state_dict`` continues bit for bit.

        With ``compile=True`` (the default) each step's loss and gradients are a replay of
        one ``tg.compile`` program (traced on the first step) instead of an eager graph: the
        same numbers bit for bit, without the Python cost per op. ``compile=False`` runs
        the steps eagerly.

        Returns
        -------
        list of float
            The minibatch loss (data + regularization) of each step, before its update.

        Raises
        ------
        FloatingPointError
            When the scores or the loss stop being finite (training diverged); the
            parameters keep their values from before that step.
        """
        return self._fit(X, y, lr, num_iters, batch_size, momentum, lr_decay, verbose,
                         callback, resume=resume, compile=compile)

    def _fit(self, X, y, lr: float, num_iters: int, batch_size: int, momentum: float,
             lr_decay: float, verbose: bool, callback: Callable[[int, float], object] | None,
             *, resume: bool, compile: bool, X_val=None, y_val=None) -> list[float]:  # noqa: A002
        """``fit``'s loop, with the validation data a model may score after each epoch."""
        where = "fit"
        X = features(where, X, self.num_features)
        n = X.shape[0]
        y = check_labels(where, y, n, self.num_classes)
        check_flag(where, "compile", compile)
        if (X_val is None) != (y_val is None):
            raise ValueError(f"{where}: give both X_val and y_val, or neither")
        if X_val is not None and y_val is not None:  # both or neither (checked just above)
            X_val = features(where, X_val, self.num_features)
            y_val = check_labels(where, y_val, X_val.shape[0], self.num_classes)
        num_iters = check_count(where, "num_iters", num_iters, 0)
        batch_size = check_count(where, "batch_size", batch_size, 1)
        lr_decay = check_real(where, "lr_decay", lr_decay, lo_open=True)
        if callback is not None and not callable(callback):
            raise TypeError(f"{where}: callback must be callable(step, loss), got {callback!r}")
        first_fit = self.optimizer is None
        if resume:
            if self.optimizer is None:
                raise ValueError(f"{where}: resume=True needs an optimizer from an earlier fit "
                                 "or from load_state_dict; this model has none")
        else:
            lr = check_real(where, "lr", lr, lo_open=True)
            momentum = check_real(where, "momentum", momentum, hi=1.0)
            self.optimizer = self._new_optimizer(lr, momentum)
            self.step_count = 0
            self._start_run()
        opt = self.optimizer
        per_epoch = max(n // batch_size, 1)
        history: list[float] = []
        step_loss = compile_fn(self._batch_loss) if compile else self._batch_loss
        for _ in range(num_iters):
            idx = self.rng.integers(0, n, size=batch_size)
            opt.zero_grad()
            Xb, yb = X[idx].astype(self.dtype, copy=False), y[idx]
            start = self.step_count == 0 and not resume  # no update of this run yet
            try:
                loss, scores = step_loss(Xb, yb)
            except NonFiniteScores:
                message = at_start("scores are", self, Xb, not first_fit) if start else \
                    diverged(self.step_count, opt.lr)
                raise FloatingPointError(message) from None
            # for progress bars (tinygrad_lc.models.training reads it)
            self.last_batch_accuracy = batch_accuracy(scores.data, yb)
            value = loss.item()
            if start and not math.isfinite(value):
                raise FloatingPointError(at_start("loss is", self, Xb, not first_fit))
            check_loss(value, self.step_count, opt.lr, self.reg)
            if first_fit and self.step_count == 0:
                self._check_initial_loss(scores, yb)
            loss.backward(retain_grads=False)  # training needs the parameters' grads only
            opt.step()
            history.append(value)
            step = self.step_count
            self.step_count += 1
            if self.step_count % per_epoch == 0:
                if lr_decay != 1.0:
                    self._decay_lr(opt, lr_decay)
                self._end_epoch(X, y, X_val, y_val, verbose)
            if verbose:
                self._log_step(step, num_iters, value)
            if callback is not None:
                callback(step, value)
        return history

    def _decay_lr(self, opt: Optimizer, lr_decay: float) -> None:
        """One epoch of the decay schedule. The product is not user input: it may underflow to
        0.0 (the steps then stop moving, the run goes on); only an overflow (lr_decay > 1 for
        hundreds of epochs) is an error."""
        lr = opt.lr * lr_decay
        if not math.isfinite(lr):
            raise FloatingPointError(
                f"fit: lr_decay={lr_decay:g} grew the learning rate past the largest float "
                f"at step {self.step_count}; use lr_decay <= 1")
        opt.set_scheduled_lr(lr)

    # ------------------------------------------------------------------ checkpoints
    def _own_state(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError  # the model's entries of STATE_KEYS, as copies

    def _checked_state(self, where: str, d: dict) -> Any:  # pragma: no cover
        raise NotImplementedError  # the model's entries of d, checked, ready to assign

    def _set_state(self, where: str, checked: Any) -> None:  # pragma: no cover
        raise NotImplementedError  # assign them; if it can fail, it fails before any change

    def state_dict(self) -> dict[str, Any]:
        """Everything a training step depends on, as plain data (the keys of ``STATE_KEYS``).

        The model's own entries (its weights; see its class), ``"rng"`` (the generator's
        ``bit_generator.state`` dict), ``"optimizer"`` (its ``state_dict()``, or None
        before the first ``fit``) and ``"step_count"`` (int).
        """
        state = {**self._own_state(),
                 "rng": self.rng.bit_generator.state,
                 "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
                 "step_count": self.step_count}
        return {k: state[k] for k in self.STATE_KEYS}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` of a model of the same sizes (and kind of generator).

        Every entry is checked, and the new weights, generator and optimizer are built on the
        side, before anything is assigned: when it raises (ValueError or TypeError, naming the
        entry), the model (weights, generator, optimizer, step count) is exactly as it was.
        """
        where = f"{type(self).__name__}.load_state_dict"
        keys = self.STATE_KEYS
        if not isinstance(d, dict) or set(d) != set(keys):
            got = sorted(map(str, d)) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"{where}: expected the keys {sorted(keys)}, got {got}")
        own = self._checked_state(where, d)
        steps = check_count(where, "step_count", d["step_count"], 0)
        rng = generator_like(where, self.rng, d["rng"])  # a new generator: self.rng untouched
        opt = None
        if d["optimizer"] is not None:
            opt = self._new_optimizer(1.0, 0.0)  # placeholders: the loaded state sets them all
            try:
                opt.load_state_dict(d["optimizer"])
                self._check_optimizer_kind(opt)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{where}: optimizer ({self.optimizer_name}): {exc}") from None
        self._set_state(where, own)  # the last step that can fail, and it changes nothing then
        self.rng.bit_generator.state = rng.bit_generator.state  # self.rng stays the same object
        self.optimizer, self.step_count = opt, steps
