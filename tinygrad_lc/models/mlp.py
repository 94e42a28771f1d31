"""The lecture's next step after the linear score: the two-layer net ``s = W2 max(0, W1 x)``.

``MLPClassifier`` has the life cycle of ``models.LinearClassifier`` (``fit``, ``scores``,
``predict``, ``score``, ``state_dict``, ``load_state_dict``) around an ``nn.MLP``: the data
loss (softmax or SVM) plus ``reg`` times the sum of squares of every weight matrix (the
biases are not regularized), trained by SGD, SGD with momentum or Adam, with the learning
rate multiplied by ``lr_decay`` after every epoch. Everything random comes from ``self.rng``,
so a run is reproducible and ``state_dict()`` resumes it bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from tinygrad_lc import losses, regularizers
from tinygrad_lc.compile.compiled import compile as compile_fn
from tinygrad_lc.core.checks import check_choice, check_count, check_real
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.core.tensor import Tensor, host
from tinygrad_lc.losses import check_labels
from tinygrad_lc.models.base import ScoringMixin, batch_accuracy, check_loss, diverged
from tinygrad_lc.models.base import features as _features
from tinygrad_lc.models.base import generator_like as _generator_like
from tinygrad_lc.nn import MLP, Linear
from tinygrad_lc.optim import SGD, Adam

__all__ = ["MLPClassifier", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "momentum", "adam")
TRAIN_SUBSET = 1000  # training rows scored after each epoch (the first ones: a fixed sample)
_HISTORY = ("epoch", "loss", "train_accuracy", "val_accuracy")


class NonFiniteScores(FloatingPointError):
    """A compiled ``fit`` step found NaN or inf scores (``fit`` says which step)."""


@host  # a step of the compiled fit: the scores change every step
def check_finite_scores(s: np.ndarray) -> None:
    """Raise NonFiniteScores when ``s`` holds NaN or inf (training diverged)."""
    if not np.isfinite(s).all():
        raise NonFiniteScores("the scores hold NaN or inf")


def check_flag(where: str, name: str, value) -> None:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")


def _decay_lr(opt, lr_decay: float, step: int) -> None:
    """One epoch of the decay schedule, as ``LinearClassifier.fit``'s: the rate may underflow
    to 0.0 (steps stop moving, the run goes on); only an overflow to inf is an error."""
    lr = opt.lr * lr_decay
    if not math.isfinite(lr):
        raise FloatingPointError(f"fit: lr_decay={lr_decay:g} grew the learning rate past the "
                                 f"largest float at step {step}; use lr_decay <= 1")
    opt._set_scheduled_lr(lr)


class MLPClassifier(ScoringMixin):
    """A fully connected ReLU net ``Linear, ReLU, ..., Linear`` with a softmax or SVM loss.

    Parameters
    ----------
    num_features, num_classes : int
    hidden : int or sequence of int
        Widths of the hidden layers: ``(100,)`` is the two-layer net with 100 hidden units.
    loss : {"softmax", "svm"}
    reg : float
        The full loss is ``data loss + reg * sum_k sum(W_k**2)`` over the weight matrices.
    optimizer : {"sgd", "momentum", "adam"}
        ``optim.SGD``, ``optim.SGD`` with momentum (``fit``'s ``momentum``), ``optim.Adam``.
    weight_scale : float or None
        Standard deviation of the initial weights; None for He initialization
        (``sqrt(2 / fan_in)``, right for ReLU layers). Biases start at 0.
    dtype : np.float64 or np.float32
        float32 halves the memory and roughly doubles the speed on CIFAR-10.
    seed : int, np.random.SeedSequence or None
        Seeds ``self.rng``: the initial weights, then every minibatch.
    delta : float, keyword-only
        The SVM margin.

    Attributes
    ----------
    net : nn.MLP (an ``nn.Sequential``)
    rng : np.random.Generator
    optimizer : optim.SGD, optim.Adam or None (before the first ``fit``)
    step_count : int
    last_batch_accuracy : float
        Accuracy on the latest ``fit`` step's minibatch (before its update); NaN before.
    history : dict of lists, one entry per epoch
        ``"epoch"``, ``"loss"`` (the full loss on the first 1,000 training rows),
        ``"train_accuracy"`` (on the same rows) and ``"val_accuracy"`` (on ``X_val``
        when ``fit`` gets it, else NaN).

    Examples
    --------
    >>> from tinygrad_lc.data.sources import make_blobs
    >>> X, y = make_blobs(50, seed=0)
    >>> model = MLPClassifier(2, 3, hidden=(20,), optimizer="adam", seed=0)
    >>> _ = model.fit(X, y, lr=1e-2, num_iters=100, batch_size=50)
    >>> model.score(X, y) > 0.9, len(model.history["loss"])  # 100 steps of 3 per epoch
    (True, 33)
    """

    def __init__(self, num_features: int, num_classes: int, hidden=(100,), loss: str = "softmax",
                 reg: float = 0.0, optimizer: str = "sgd", weight_scale: float | None = None,
                 dtype=np.float64, seed=None, *, delta: float = 1.0):
        where = "MLPClassifier"
        self.num_features = check_count(where, "num_features", num_features, 1)
        self.num_classes = check_count(where, "num_classes", num_classes, 2)
        if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if isinstance(hidden, str) or not isinstance(hidden, Iterable):
            raise TypeError(f"{where}: hidden must be an int or a sequence of ints such as "
                            f"(100,) or (100, 50), got {hidden!r}")
        self.hidden = tuple(check_count(where, "each hidden width", h, 1) for h in hidden)
        self.loss_name = check_choice(where, "loss", loss, losses.LOSSES)
        self.reg = check_real(where, "reg", reg, 0.0)
        self.optimizer_name = check_choice(where, "optimizer", optimizer, OPTIMIZERS)
        self.weight_scale = None if weight_scale is None else \
            check_real(where, "weight_scale", weight_scale, 0.0)
        self.delta = check_real(where, "delta", delta, 0.0)
        self.rng = np.random.default_rng(seed)
        init = "he" if self.weight_scale is None else self.weight_scale
        sizes = [self.num_features, *self.hidden, self.num_classes]
        try:
            self.net = MLP(sizes, init=init, seed=self.rng, dtype=dtype)
        except TypeError as exc:
            raise TypeError(f"{where}: {str(exc).partition(': ')[2]}") from None
        self.dtype = self.net[0].W.dtype
        self.optimizer: SGD | Adam | None = None
        self.step_count = 0
        self.last_batch_accuracy = float("nan")
        self.history: dict[str, list] = {k: [] for k in _HISTORY}

    @property
    def params(self) -> list[Tensor]:
        """The trained tensors, ``net.parameters()``: W1, b1, W2, b2, ..."""
        return self.net.parameters()

    @property
    def weights(self) -> list[Tensor]:
        """The weight matrices (what ``reg`` penalizes), first layer first."""
        return [m.W for m in self.net if isinstance(m, Linear)]

    # ------------------------------------------------------------------ the loss
    def _scores(self, X: np.ndarray) -> Tensor:
        return self.net(Tensor(X.astype(self.dtype, copy=False), name="X"))

    def _batch_loss(self, X: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
        """The minibatch loss and scores of a ``fit`` step (X already in the model's dtype),
        as ``fit`` computes them eagerly; ``fit(compile=True)`` compiles this function."""
        scores = self.net(Tensor(X, name="X"))
        check_finite_scores(scores._data)
        return self._full_loss(scores, y), scores

    def _full_loss(self, scores: Tensor, y) -> Tensor:
        options = {"delta": self.delta} if self.loss_name == "svm" else {}
        total = losses.data_loss(self.loss_name, scores, y, **options)
        if self.reg:
            total = total + self.reg * regularizers.l2(self.weights)
        return total

    def loss(self, X, y) -> Tensor:
        """The full loss on (X, y): data loss + ``reg * sum(W**2)``, with its graph."""
        X = _features("MLPClassifier.loss", X, self.num_features)
        y = check_labels("MLPClassifier.loss", y, X.shape[0], self.num_classes)
        return self._full_loss(self._scores(X), y)

    # ------------------------------------------------------------------ training
    def _new_optimizer(self, lr: float, momentum: float) -> SGD | Adam:
        if self.optimizer_name == "adam":
            return Adam(self.params, lr=lr)
        return SGD(self.params, lr=lr, momentum=momentum if self.optimizer_name == "momentum"
                   else 0.0)

    def _end_epoch(self, X, y, X_val, y_val) -> None:
        """Append the epoch's loss and accuracies (no graph, no random numbers drawn)."""
        rows = slice(0, min(len(y), TRAIN_SUBSET))
        with no_grad():
            scores = self._scores(X[rows])
            loss = self._full_loss(scores, y[rows]).item()
        h = self.history
        h["epoch"].append(len(h["epoch"]) + 1)
        h["loss"].append(loss)
        h["train_accuracy"].append(float(np.mean(np.argmax(scores.data, axis=1) == y[rows])))
        h["val_accuracy"].append(float("nan") if X_val is None else self.score(X_val, y_val))

    def fit(self, X, y, lr: float = 1e-3, num_iters: int = 1000, batch_size: int = 200,
            momentum: float = 0.9, lr_decay: float = 1.0, verbose: bool = False,
            callback: Callable[[int, float], object] | None = None, *, X_val=None, y_val=None,
            resume: bool = False, compile: bool = True) -> list[float]:  # noqa: A002
        """Train by minibatches; return the loss of every step.

        Each step draws ``batch_size`` rows with replacement (from ``self.rng``), computes
        the full loss, backpropagates and takes one optimizer step. After every
        ``max(N // batch_size, 1)`` steps (one epoch) the learning rate is multiplied by
        ``lr_decay`` and ``history`` gets the epoch's loss and accuracies (validation ones
        from ``X_val``, ``y_val`` when given). ``callback(step, loss)`` runs after each
        update. ``momentum`` is used by ``optimizer="momentum"`` only.

        With ``resume=True`` the existing optimizer (its lr and state) and ``step_count``
        carry on and ``lr`` and ``momentum`` are not used: a run restored with
        ``load_state_dict`` continues bit for bit.

        With ``compile=True`` (the default) each step's loss and gradients are a replay of one
        ``tg.compile`` program (traced on the first step): the same numbers bit for bit as
        ``compile=False``, which runs the steps eagerly, without the Python cost per op.

        Raises
        ------
        FloatingPointError
            The scores or the loss stopped being finite (training diverged); the
            parameters keep their values from before that step.
        """
        where = "fit"
        X = _features(where, X, self.num_features)
        n = X.shape[0]
        y = check_labels(where, y, n, self.num_classes)
        check_flag(where, "compile", compile)
        if (X_val is None) != (y_val is None):
            raise ValueError(f"{where}: give both X_val and y_val, or neither")
        if X_val is not None:
            X_val = _features(where, X_val, self.num_features)
            y_val = check_labels(where, y_val, X_val.shape[0], self.num_classes)
        num_iters = check_count(where, "num_iters", num_iters, 0)
        batch_size = check_count(where, "batch_size", batch_size, 1)
        lr_decay = check_real(where, "lr_decay", lr_decay, lo_open=True)
        if callback is not None and not callable(callback):
            raise TypeError(f"{where}: callback must be callable(step, loss), got {callback!r}")
        if resume:
            if self.optimizer is None:
                raise ValueError(f"{where}: resume=True needs an optimizer from an earlier fit "
                                 "or from load_state_dict; this model has none")
        else:
            lr = check_real(where, "lr", lr, lo_open=True)
            momentum = check_real(where, "momentum", momentum, hi=1.0)
            self.optimizer = self._new_optimizer(lr, momentum)
            self.step_count = 0
            self.history = {k: [] for k in _HISTORY}
        opt = self.optimizer
        per_epoch = max(n // batch_size, 1)
        out: list[float] = []
        step_loss = compile_fn(self._batch_loss) if compile else None
        for _ in range(num_iters):
            idx = self.rng.integers(0, n, size=batch_size)
            opt.zero_grad()
            Xb, yb = X[idx].astype(self.dtype, copy=False), y[idx]
            if step_loss is not None:
                try:
                    loss, scores = step_loss(Xb, yb)
                except NonFiniteScores:
                    raise FloatingPointError(diverged(self.step_count, opt.lr)) from None
            else:
                scores = self._scores(Xb)
                if not np.isfinite(scores.data).all():
                    raise FloatingPointError(diverged(self.step_count, opt.lr))
                loss = self._full_loss(scores, yb)
            self.last_batch_accuracy = batch_accuracy(scores.data, yb)  # for progress bars
            value = loss.item()
            check_loss(value, self.step_count, opt.lr, self.reg)
            loss.backward(retain_grads=False)
            opt.step()
            out.append(value)
            step = self.step_count
            self.step_count += 1
            if self.step_count % per_epoch == 0:
                if lr_decay != 1.0:
                    _decay_lr(opt, lr_decay, self.step_count)
                self._end_epoch(X, y, X_val, y_val)
                if verbose:
                    h = self.history
                    print(f"fit: epoch {h['epoch'][-1]} (step {self.step_count}) loss "
                          f"{h['loss'][-1]:.4f} train {h['train_accuracy'][-1]:.3f} "
                          f"val {h['val_accuracy'][-1]:.3f}")
            if callback is not None:
                callback(step, value)
        return out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Weights, generator state, optimizer state, step count and history, as plain data.

        Keys: ``"net"`` (``net.state_dict()``: "0.W", "0.b", "2.W", ...), ``"rng"`` (the
        generator's ``bit_generator.state``), ``"optimizer"`` (its ``state_dict()`` or
        None), ``"step_count"`` (int) and ``"history"`` (dict of lists).
        """
        return {
            "net": self.net.state_dict(),
            "rng": self.rng.bit_generator.state,
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "step_count": self.step_count,
            "history": {k: list(v) for k, v in self.history.items()},
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore a ``state_dict()`` of a model with the same layer sizes.

        Everything is checked before anything changes; a bad entry raises ValueError or
        TypeError naming it (e.g. the net's key ``'0.W'`` with its shape).
        """
        where = "MLPClassifier.load_state_dict"
        keys = ("net", "rng", "optimizer", "step_count", "history")
        if not isinstance(d, dict) or set(d) != set(keys):
            got = sorted(map(str, d)) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"{where}: expected the keys {sorted(keys)}, got {got}")
        steps = check_count(where, "step_count", d["step_count"], 0)
        history = d["history"]
        if not isinstance(history, dict) or set(history) != set(_HISTORY):
            raise ValueError(f"{where}: history must be a dict with the keys {list(_HISTORY)}")
        try:
            history = {k: [int(x) if k == "epoch" else float(x) for x in history[k]]
                       for k in _HISTORY}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: history must hold lists of numbers: {exc}") from None
        if len({len(v) for v in history.values()}) != 1:
            raise ValueError(f"{where}: history must hold lists of one length (one per epoch)")
        opt = None
        if d["optimizer"] is not None:
            opt = self._new_optimizer(1.0, 0.5)  # the loaded state replaces lr and momentum
            try:
                opt.load_state_dict(d["optimizer"])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{where}: optimizer ({self.optimizer_name}): {exc}") from None
        rng = _generator_like(where, self.rng, d["rng"])  # a new generator: self.rng untouched
        try:
            self.net.load_state_dict(d["net"])  # checks every key first; the last to fail
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: net: {exc}") from None
        self.rng.bit_generator.state = rng.bit_generator.state  # self.rng stays the same object
        self.optimizer, self.step_count, self.history = opt, steps, history
