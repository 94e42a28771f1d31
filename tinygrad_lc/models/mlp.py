"""The lecture's next step after the linear score: the two-layer net ``s = W2 max(0, W1 x)``.

``MLPClassifier`` has the life cycle of ``models.LinearClassifier`` (both are a
``base.Classifier``: ``fit``, ``scores``, ``predict``, ``score``, ``state_dict``,
``load_state_dict``) around an ``nn.MLP``: the data
loss (softmax or SVM) plus ``reg`` times the sum of squares of every weight matrix (the
biases are not regularized), trained by SGD, SGD with momentum or Adam, with the learning
rate multiplied by ``lr_decay`` after every epoch. Everything random comes from ``self.rng``,
so a run is reproducible and ``state_dict()`` resumes it bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_lc import losses, regularizers
from tinygrad_lc.core.checks import check_choice, check_count, check_real
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.models.base import Classifier
from tinygrad_lc.nn import MLP, Linear
from tinygrad_lc.optim import SGD, Adam, Optimizer

__all__ = ["MLPClassifier", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "momentum", "adam")
TRAIN_SUBSET = 1000  # training rows scored after each epoch (the first ones: a fixed sample)
_HISTORY = ("epoch", "loss", "train_accuracy", "val_accuracy")


class MLPClassifier(Classifier):
    """A fully connected ReLU net ``Linear, ReLU, ..., Linear`` with a softmax or SVM loss.

    ``fit``'s loop, ``state_dict`` and ``load_state_dict`` are ``models.base.Classifier``'s;
    this class gives them the net, the loss, the optimizer and a per-epoch ``history``.

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

    ``state_dict()`` holds ``"net"`` (``net.state_dict()``: "0.W", "0.b", "2.W", ...),
    ``"rng"``, ``"optimizer"`` (its ``state_dict()`` or None), ``"step_count"`` and
    ``"history"`` (dict of lists).

    Examples
    --------
    >>> from tinygrad_lc.data import make_blobs
    >>> X, y = make_blobs(50, seed=0)
    >>> model = MLPClassifier(2, 3, hidden=(20,), optimizer="adam", seed=0)
    >>> _ = model.fit(X, y, lr=1e-2, num_iters=100, batch_size=50)
    >>> model.score(X, y) > 0.9, len(model.history["loss"])  # 100 steps of 3 per epoch
    (True, 33)
    """

    STATE_KEYS: tuple[str, ...] = ("net", "rng", "optimizer", "step_count", "history")

    def __init__(self, num_features: int, num_classes: int,
                 hidden: int | Iterable[int] = (100,), loss: str = "softmax", reg: float = 0.0,
                 optimizer: str = "sgd", weight_scale: float | None = None,
                 dtype: DTypeLike = np.float64,
                 seed: int | np.random.SeedSequence | None = None, *, delta: float = 1.0):
        where = "MLPClassifier"
        super().__init__(where, num_features, num_classes)
        if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if isinstance(hidden, str) or not isinstance(hidden, Iterable):
            raise TypeError(f"{where}: hidden must be an int or a sequence of ints such as "
                            f"(100,) or (100, 50), got {hidden!r}")
        self.hidden: tuple[int, ...] = tuple(check_count(where, "each hidden width", h, 1)
                                             for h in hidden)
        self.loss_name: str = check_choice(where, "loss", loss, losses.LOSSES)
        self.reg: float = check_real(where, "reg", reg, 0.0)
        self.optimizer_name: str = check_choice(where, "optimizer", optimizer, OPTIMIZERS)
        self.weight_scale: float | None = None if weight_scale is None else \
            check_real(where, "weight_scale", weight_scale, 0.0)
        self.delta: float = check_real(where, "delta", delta, 0.0)
        self.rng: np.random.Generator = np.random.default_rng(seed)
        init = "he" if self.weight_scale is None else self.weight_scale
        sizes = [self.num_features, *self.hidden, self.num_classes]
        try:
            self.net: MLP = MLP(sizes, init=init, seed=self.rng, dtype=dtype)
        except TypeError as exc:
            raise TypeError(f"{where}: {str(exc).partition(': ')[2]}") from None
        first = self.net[0]
        assert isinstance(first, Linear)  # an MLP starts with a Linear layer
        self.dtype: np.dtype = first.W.dtype
        self.history: dict[str, list[float]] = {k: [] for k in _HISTORY}

    @property
    def params(self) -> list[Tensor]:
        """The trained tensors, ``net.parameters()``: W1, b1, W2, b2, ..."""
        return self.net.parameters()

    @property
    def weights(self) -> list[Tensor]:
        """The weight matrices (what ``reg`` penalizes), first layer first."""
        return [m.W for m in self.net if isinstance(m, Linear)]

    def _settings(self) -> dict:
        return {"num_features": self.num_features, "num_classes": self.num_classes,
                "hidden": self.hidden, "loss": self.loss_name, "reg": self.reg,
                "optimizer": self.optimizer_name, "weight_scale": self.weight_scale,
                "dtype": self.dtype, "delta": self.delta}

    def _state(self) -> list[tuple[str, str]]:
        rows = super()._state()
        h = self.history
        if h["epoch"]:
            rows.append(("last epoch", f"{h['epoch'][-1]}: loss {h['loss'][-1]:.4g}, train "
                         f"accuracy {h['train_accuracy'][-1]:.3f}, val accuracy "
                         f"{h['val_accuracy'][-1]:.3f}"))
        return rows

    # ------------------------------------------------------------------ the loss
    def _forward(self, X: Tensor) -> Tensor:
        return self.net(X)

    def _full_loss(self, scores: Tensor, y: np.ndarray) -> Tensor:
        options = {"delta": self.delta} if self.loss_name == "svm" else {}
        total = losses.data_loss(self.loss_name, scores, y, **options)
        if self.reg:
            total = total + self.reg * regularizers.l2(self.weights)
        return total

    # ------------------------------------------------------------------ training
    def _new_optimizer(self, lr: float, momentum: float) -> SGD | Adam:
        if self.optimizer_name == "adam":
            return Adam(self.params, lr=lr)
        return SGD(self.params, lr=lr, momentum=momentum if self.optimizer_name == "momentum"
                   else 0.0)

    def _check_optimizer_kind(self, opt: Optimizer) -> None:
        if (self.optimizer_name == "sgd" and isinstance(opt, SGD)
                and (opt.momentum or opt.nesterov)):
            raise ValueError(
                f"the state is SGD with momentum {opt.momentum:g} (saved by a model with "
                "optimizer='momentum'), but this model has optimizer='sgd', which trains "
                "without momentum; make the model with optimizer='momentum' to load it")

    def _start_run(self) -> None:
        self.history = {k: [] for k in _HISTORY}

    def _end_epoch(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None,
                   y_val: np.ndarray | None, verbose: bool) -> None:
        """Append the epoch's loss and accuracies (no graph, no random numbers drawn)."""
        rows = slice(0, min(len(y), TRAIN_SUBSET))
        with no_grad():
            scores = self._scores(X[rows])
            loss = self._full_loss(scores, y[rows]).item()
        h = self.history
        h["epoch"].append(len(h["epoch"]) + 1)
        h["loss"].append(loss)
        h["train_accuracy"].append(float(np.mean(np.argmax(scores.data, axis=1) == y[rows])))
        h["val_accuracy"].append(float("nan") if X_val is None or y_val is None
                                 else self.score(X_val, y_val))
        if verbose:
            print(f"fit: epoch {h['epoch'][-1]} (step {self.step_count}) loss "
                  f"{h['loss'][-1]:.4f} train {h['train_accuracy'][-1]:.3f} "
                  f"val {h['val_accuracy'][-1]:.3f}")

    def fit(self, X: ArrayLike, y: ArrayLike, lr: float = 1e-3, num_iters: int = 1000,
            batch_size: int = 200, momentum: float = 0.9, lr_decay: float = 1.0,
            verbose: bool = False, callback: Callable[[int, float], object] | None = None, *,
            X_val: ArrayLike | None = None, y_val: ArrayLike | None = None,
            resume: bool = False, compile: bool = True) -> list[float]:  # noqa: A002
        """Train by minibatches (``Classifier.fit``); return the loss of every step.

        Each step draws ``batch_size`` rows with replacement (from ``self.rng``), computes
        the full loss, backpropagates and takes one optimizer step. After every
        ``max(N // batch_size, 1)`` steps (one epoch) the learning rate is multiplied by
        ``lr_decay`` and ``history`` gets the epoch's loss and accuracies (validation ones
        from ``X_val``, ``y_val`` when given; with ``verbose``, a line is printed).
        ``callback(step, loss)`` runs after each update. ``momentum`` is used by
        ``optimizer="momentum"`` only.

        With ``resume=True`` the existing optimizer (its lr and state) and ``step_count``
        carry on and ``lr`` and ``momentum`` are not used: a run restored with
        ``load_state_dict`` continues bit for bit (a new run starts a new ``history``).

        With ``compile=True`` (the default) each step's loss and gradients are a replay of one
        ``tg.compile`` program (traced on the first step): the same numbers bit for bit as
        ``compile=False``, which runs the steps eagerly, without the Python cost per op.

        Raises
        ------
        FloatingPointError
            The scores or the loss stopped being finite (training diverged); the
            parameters keep their values from before that step.
        """
        return self._fit(X, y, lr, num_iters, batch_size, momentum, lr_decay, verbose,
                         callback, resume=resume, compile=compile, X_val=X_val, y_val=y_val)

    # ------------------------------------------------------------------ checkpoints
    def _own_state(self) -> dict:
        return {"net": self.net.state_dict(),
                "history": {k: list(v) for k, v in self.history.items()}}

    def _checked_state(self, where: str, d: dict) -> tuple[dict, dict[str, list]]:
        """The net's entry as given (``_set_state`` checks it as it loads) and the history,
        checked."""
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
        return d["net"], history

    def _set_state(self, where: str, checked: tuple[dict, dict[str, list]]) -> None:
        net, history = checked
        try:
            self.net.load_state_dict(net)  # checks every key before it changes any
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: net: {exc}") from None
        self.history = history
