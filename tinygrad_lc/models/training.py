"""Training runs for the command line: data sets, per-data-set defaults, and a resumable loop.

A run trains a ``models.LinearClassifier`` (``model="linear"``) or ``models.MLPClassifier``
(``model="mlp"``) with its own ``fit``, in chunks
of ``save_every`` steps with ``fit(resume=True)`` in between, and can write a checkpoint
after each chunk. The model's ``state_dict()`` holds everything a step depends on (W, the
optimizer's velocity, the generator that draws the minibatches, the step count), so a run
stopped and resumed from a checkpoint ends with the same weights, bit for bit, as a run
that never stopped.

The data sets (``datasets.load_dataset``) are split and preprocessed with the bias trick, so
the linear model has ``bias=False``: its last row of W is the bias.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinygrad_lc.data.datasets import (  # noqa: F401 (training.load_dataset and the rest, as before)
    CIFAR10_CLASSES,
    DATASET_SIZES,
    DATASETS,
    Dataset,
    accuracy,
    load_dataset,
    split_rng,
    three_way,
)
from tinygrad_lc.losses import LOSSES
from tinygrad_lc.models.linear import LinearClassifier
from tinygrad_lc.models.mlp import OPTIMIZERS, MLPClassifier
from tinygrad_lc.regularizers import REGULARIZERS
from tinygrad_lc.util import interrupts
from tinygrad_lc.util.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_lc.util.progress import progress_bar

__all__ = ["DATASETS", "DEFAULTS", "LOSS_DEFAULTS", "ConfigError", "Dataset", "TrainConfig",
           "Trainer", "load_dataset", "option_name", "runaway_warning"]

# Per-data-set hyperparameters. CIFAR-10: chosen on the validation set by `tinygrad-lc sweep`
# (docs/sweeps.md), per loss in LOSS_DEFAULTS. digits: measured to reach about 0.95 test
# accuracy with both losses in well under a second. blobs: about 0.99.
DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"lr": 1e-2, "reg": 1e-1, "iters": 300, "batch_size": 200},
    "cifar10": {"lr": 5e-8, "reg": 5e2, "iters": 6000, "batch_size": 500},
    "blobs": {"lr": 1e-1, "reg": 1e-3, "iters": 200, "batch_size": 50},
}
LOSS_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("cifar10", "softmax"): {"lr": 1e-6, "reg": 1e2},
}
# The two-layer net's defaults (--model mlp): Adam, He initialization, standardized pixels;
# digits: 40 epochs, beats the linear model's test accuracy for seeds 0-4 (tests/test_mlp.py);
# cifar10: 15 epochs of 245 steps (see docs/accuracy.md for the accuracy and time measured).
MLP_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"loss": "softmax", "hidden": (100,), "optimizer": "adam", "lr": 1e-2,
               "reg": 1e-3, "iters": 1000, "batch_size": 50, "lr_decay": 0.9,
               "weight_scale": None},
    "cifar10": {"loss": "softmax", "hidden": (200,), "optimizer": "adam", "lr": 1e-3,
                "reg": 2.5e-3, "iters": 3675, "batch_size": 200, "lr_decay": 0.9,
                "weight_scale": None, "dtype": "float32"},
    "blobs": {"loss": "softmax", "hidden": (20,), "optimizer": "adam", "lr": 1e-2,
              "reg": 1e-3, "iters": 200, "batch_size": 50, "lr_decay": 1.0,
              "weight_scale": None},
}
MODELS = ("linear", "mlp")
DTYPES = ("float64", "float32")  # of the MLP's weights
# The largest sizes a run may ask for, checked before anything is allocated (TrainConfig.check)
MAX_ITERS = 10_000_000  # steps: a run keeps the loss and the accuracy of every step
MAX_HIDDEN_LAYERS = 100
MAX_HIDDEN_WIDTH = 10_000  # units in one hidden layer (a batch's activations grow with it)
MAX_PARAMETERS = 20_000_000  # of the MLP: 160 MB of float64 weights, each with 3 more for Adam
# Settings a checkpoint must share with the run that resumes it (the rest, e.g. iters, may
# change): any difference would make the resumed run a different run.
TRAJECTORY_KEYS = ("dataset", "loss", "regularizer", "reg", "beta", "lr", "batch_size",
                   "momentum", "seed", "weight_scale", "model", "hidden", "optimizer", "lr_decay",
                   "dtype")
# what checkpoints written before a setting existed ran with
_OLD_SETTINGS = {"model": "linear", "hidden": (), "optimizer": "sgd", "lr_decay": 1.0,
                 "dtype": "float64"}
CHECKPOINT_KIND = "tinygrad_lc.train"
RUNAWAY_FACTOR = 100.0  # a loss this many times its first value means the run is running away
RUNNING_WINDOW = 50  # minibatches in the progress bar's running accuracy


@dataclass
class TrainConfig:
    """Everything that determines a training run (see ``tinygrad-lc train --help``)."""

    dataset: str = "digits"
    loss: str = "svm"
    regularizer: str = "l2"
    reg: float = DEFAULTS["digits"]["reg"]
    lr: float = DEFAULTS["digits"]["lr"]
    iters: int = DEFAULTS["digits"]["iters"]
    batch_size: int = DEFAULTS["digits"]["batch_size"]
    momentum: float = 0.0
    seed: int = 0
    weight_scale: float = 1e-4
    beta: float = 1.0  # elastic net: reg * sum(beta * W**2 + |W|)
    model: str = "linear"  # or "mlp"; the settings below are the MLP's (linear: sgd/momentum)
    hidden: tuple[int, ...] = ()
    optimizer: str = "sgd"  # "sgd", "momentum" (momentum 0.9 unless given) or "adam"
    lr_decay: float = 1.0  # the learning rate is multiplied by it after every epoch
    dtype: str = "float64"  # of the MLP's weights

    @classmethod
    def for_dataset(cls, dataset: str, **overrides: Any) -> TrainConfig:
        """The defaults of ``dataset`` (for ``overrides["model"]``, default "linear"), with
        every non-None entry of ``overrides`` applied.

        >>> TrainConfig.for_dataset("cifar10", loss="softmax", lr=None).lr
        1e-06
        >>> TrainConfig.for_dataset("digits", model="mlp").hidden
        (100,)
        """
        if dataset not in DATASETS:
            raise ValueError(f"TrainConfig: dataset must be one of {', '.join(DATASETS)}, "
                             f"got {dataset!r}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"TrainConfig: unknown settings {unknown}")
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("model") == "mlp":
            values = {**MLP_DEFAULTS[dataset], **given}
        else:  # the linear model's, per loss where the losses' best settings differ
            by_loss = LOSS_DEFAULTS.get((dataset, given.get("loss", cls.loss)), {})
            values = {**DEFAULTS[dataset], **by_loss, **given}
        if values.get("optimizer") == "momentum":
            values.setdefault("momentum", 0.9)
        return cls(dataset=dataset, **values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self, num_train: int | None = None,
              spell: Callable[[str], str] | None = None) -> None:
        """Refuse a setting that cannot train: the one check of ``tinygrad-lc train``'s and
        ``tinygrad-lc sweep``'s settings, made before anything is loaded or allocated.

        Names from the known sets, numbers finite and in range (momentum in [0, 1), lr and
        lr_decay > 0, reg, beta and weight_scale >= 0, 1 <= batch_size <= ``num_train``,
        0 <= iters <= ``MAX_ITERS``), the linear model without MLP settings (hidden, adam),
        the MLP with l2 and within ``MAX_HIDDEN_LAYERS``, ``MAX_HIDDEN_WIDTH`` and
        ``MAX_PARAMETERS``.

        Parameters
        ----------
        num_train : int, optional
            Training examples (default: the data set's, ``DATASET_SIZES``).
        spell : callable, optional
            Spells an option in the message (default: ``option_name``, "--batch-size").

        Raises
        ------
        ConfigError
            The first setting refused, by option name, with the value and what it must be.

        Examples
        --------
        >>> TrainConfig.for_dataset("blobs", momentum=1.5).check()
        Traceback (most recent call last):
        ...
        tinygrad_lc.models.training.ConfigError: --momentum must be in [0, 1), got 1.5
        >>> TrainConfig.for_dataset("blobs", optimizer="adam").check(spell=str)
        Traceback (most recent call last):
        ...
        tinygrad_lc.models.training.ConfigError: optimizer adam needs model mlp; the linear \
model trains with sgd or momentum
        """
        o = spell or option_name

        def fail(message: str) -> NoReturn:
            raise ConfigError(message)

        for name, known in (("dataset", DATASETS), ("model", MODELS), ("loss", LOSSES),
                            ("regularizer", REGULARIZERS), ("optimizer", OPTIMIZERS),
                            ("dtype", DTYPES)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in known:
                fail(f"{o(name)} must be one of {', '.join(known)}, got {value!r}")
        for name in ("iters", "batch_size", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                fail(f"{o(name)} must be an integer, got {value!r}")
        if self.seed < 0:
            fail(f"{o('seed')} must be an integer >= 0, got {self.seed}")
        for name, low, strict in (("lr", 0, True), ("reg", 0, False), ("beta", 0, False),
                                  ("weight_scale", 0, False), ("lr_decay", 0, True),
                                  ("momentum", 0, False)):
            value = getattr(self, name)
            if value is None and name == "weight_scale":  # the MLP's He initialization
                continue
            if isinstance(value, bool) or not isinstance(value, _REALS):
                fail(f"{o(name)} must be a number, got {value!r}")
            if name == "momentum":
                if not (math.isfinite(value) and 0 <= value < 1):
                    fail(f"{o('momentum')} must be in [0, 1), got {value:g}")
            elif not (math.isfinite(value) and (value > low if strict else value >= low)):
                fail(f"{o(name)} must be {'>' if strict else '>='} 0 and finite, got {value:g}")
        if self.iters < 0:
            fail(f"{o('iters')} must be >= 0, got {self.iters}")
        if self.iters > MAX_ITERS:
            fail(f"{o('iters')} must be at most {MAX_ITERS:,} (a run keeps the loss of every "
                 f"step), got {self.iters:,}")
        if self.batch_size < 1:
            fail(f"{o('batch_size')} must be >= 1, got {self.batch_size}")
        sizes = DATASET_SIZES[self.dataset]
        num_train = sizes["num_train"] if num_train is None else num_train
        if self.batch_size > num_train:  # minibatches are drawn with replacement: no use
            fail(f"{o('batch_size')} {self.batch_size} is more than the {num_train} training "
                 f"examples of {self.dataset}; use at most {num_train}")
        hidden = self.hidden
        if not isinstance(hidden, tuple) or not all(
                isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1
                for h in hidden):
            fail(f"{o('hidden')} must be widths >= 1 such as (100,) or (100, 50), got "
                 f"{hidden!r}")
        mlp = self.model == "mlp"
        if not mlp and hidden:
            fail(f"{o('hidden')} needs {o('model')} mlp (the linear model has no hidden layer)")
        if not mlp and self.optimizer == "adam":
            fail(f"{o('optimizer')} adam needs {o('model')} mlp; the linear model trains "
                 "with sgd or momentum")
        if mlp and self.regularizer != "l2":
            fail(f"{o('model')} mlp penalizes the weights with l2 only, got {o('regularizer')} "
                 f"{self.regularizer}")
        if mlp and self.momentum != 0 and self.optimizer != "momentum":
            fail(f"{o('momentum')} needs {o('optimizer')} momentum with {o('model')} mlp (got "
                 f"{o('optimizer')} {self.optimizer})")
        if mlp:
            if len(hidden) > MAX_HIDDEN_LAYERS:
                fail(f"{o('hidden')} gives {len(hidden)} hidden layers; at most "
                     f"{MAX_HIDDEN_LAYERS}")
            if max(hidden, default=0) > MAX_HIDDEN_WIDTH:
                fail(f"{o('hidden')} asks for a layer of {max(hidden):,} units; at most "
                     f"{MAX_HIDDEN_WIDTH:,}")
            widths = [sizes["num_features"], *hidden, sizes["num_classes"]]
            count = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
            if count > MAX_PARAMETERS:
                fail(f"{o('hidden')} {','.join(map(str, hidden))} makes a net of {count:,} "
                     f"parameters on {self.dataset}; at most {MAX_PARAMETERS:,} "
                     f"({MAX_PARAMETERS * 8 // 10**6} MB of float64 weights)")


_REALS = (int, float, np.integer, np.floating)  # a tuple: isinstance is fast on it


class ConfigError(ValueError):
    """A training setting that ``TrainConfig.check`` refuses."""


def option_name(name: str) -> str:
    """A setting as the command line spells it.

    >>> option_name("batch_size")
    '--batch-size'
    """
    return "--" + name.replace("_", "-")


def one_blas_thread() -> Any:
    """Limit BLAS to one thread while training, when threadpoolctl (a scikit-learn
    dependency) is installed: minibatch products are too small to gain from more threads,
    and on a busy machine the threads' spinning made steps several times slower (measured).
    """
    try:
        # threadpoolctl is optional (the cluster extra): without it BLAS keeps its threads
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class Trainer:
    """A resumable training run of a ``LinearClassifier`` (``bias=False``, bias trick in X)
    or, with ``config.model == "mlp"``, of an ``MLPClassifier``.

    Parameters
    ----------
    config : TrainConfig
    num_features, num_classes : int
        D (with the bias column) and C.

    Attributes
    ----------
    model : models.LinearClassifier or models.MLPClassifier
    loss_history : list of float
        The minibatch loss of every step so far (also the steps before a resume).
    batch_accuracy : list of float
        Each step's minibatch accuracy (before the update).
    seconds : float
        Training time so far, over all resumed runs.
    saved_step : int or None
        The step held by the checkpoint this trainer last wrote (:meth:`save`) or read
        (:meth:`load`); None before either.

    Examples
    --------
    >>> data = load_dataset("blobs")
    >>> trainer = Trainer(TrainConfig.for_dataset("blobs", iters=50), 3, 3)
    >>> trainer.train(data.X_train, data.y_train, progress=False)
    >>> trainer.step, accuracy(trainer.model, data.X_val, data.y_val) > 0.9
    (50, True)
    """

    def __init__(self, config: TrainConfig, num_features: int, num_classes: int):
        self.config = config
        self.num_features, self.num_classes = int(num_features), int(num_classes)
        if config.model == "mlp":
            self.model = MLPClassifier(
                num_features, num_classes, hidden=config.hidden, loss=config.loss,
                reg=config.reg, optimizer=config.optimizer, weight_scale=config.weight_scale,
                dtype=np.dtype(config.dtype), seed=config.seed)
        else:
            self.model = LinearClassifier(
                num_features, num_classes, loss=config.loss, reg=config.reg,
                regularizer=config.regularizer, bias=False, weight_scale=config.weight_scale,
                seed=config.seed, beta=config.beta)
        self.loss_history: list[float] = []
        self.batch_accuracy: list[float] = []
        self.seconds = 0.0
        self.saved_step: int | None = None

    @property
    def step(self) -> int:
        return self.model.step_count

    @property
    def _last_accuracy(self) -> float:
        """Accuracy on the minibatch of the latest step (LinearClassifier.fit records it)."""
        return self.model.last_batch_accuracy

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: the model's state, histories, config, shapes."""
        return {
            "kind": CHECKPOINT_KIND,
            "config": self.config.to_dict(),
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "model": self.model.state_dict(),
            "loss_history": np.asarray(self.loss_history, dtype=np.float64),
            "batch_accuracy": np.asarray(self.batch_accuracy, dtype=np.float64),
            "seconds": self.seconds,
        }

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint to ``path`` atomically (see ``checkpoint.save_checkpoint``).

        Inside ``interrupts.stop_on_signals()`` a SIGINT or SIGTERM arriving during the save
        takes effect once the file is complete (a second one stops it at once).
        """
        state = self.state_dict()
        with interrupts.deferred():
            written = save_checkpoint(path, state)
            self.saved_step = state["model"]["step_count"]
        return written

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save` for the same data and settings.

        Raises
        ------
        CheckpointError
            The file is unreadable or foreign, or it belongs to another run (different data
            shape or trajectory settings); the message names the file and the differences.
        """
        state = load_checkpoint(path)

        def fail(what: str) -> CheckpointError:
            return CheckpointError(f"Trainer.load: {path} {what}")

        if state.get("kind") != CHECKPOINT_KIND:
            raise fail(f"is a tinygrad_lc checkpoint, but not of a training run (its kind is "
                       f"{state.get('kind')!r}, expected {CHECKPOINT_KIND!r})")
        saved_config = state.get("config")
        if not isinstance(saved_config, dict):
            raise fail("holds no training configuration")
        mine = self.config.to_dict()
        diffs = [f"{k}: checkpoint {_setting(saved_config, k)!r}, now {mine[k]!r}"
                 for k in TRAJECTORY_KEYS if _setting(saved_config, k) != _setting(mine, k)]
        if diffs:
            raise fail("was written by a run with other settings, so resuming it would not "
                       "continue that run: " + "; ".join(diffs) +
                       ". Use the same settings, or another --checkpoint path for a new run.")
        shape = (state.get("num_features"), state.get("num_classes"))
        if shape != (self.num_features, self.num_classes):
            raise fail(f"holds weights for {shape[0]} features and {shape[1]} classes, but "
                       f"this data has {self.num_features} features and {self.num_classes} "
                       "classes (W of shape "
                       f"({self.num_features}, {self.num_classes}))")
        # everything is checked before anything changes; the model's load_state_dict, the
        # last step that can fail, changes nothing when it fails either
        try:
            history = np.asarray(state["loss_history"], dtype=np.float64)
            batch_acc = np.asarray(state["batch_accuracy"], dtype=np.float64)
            seconds = float(state["seconds"])
            model_state = state["model"]
            steps = model_state["step_count"]
            if history.shape != (steps,) or batch_acc.shape != (steps,):
                raise ValueError(f"it records {history.shape} losses and {batch_acc.shape} "
                                 f"accuracies for {steps} steps")
            if not np.isfinite(history).all():  # fit stops before recording such a loss
                raise ValueError("its loss history holds NaN or infinite values")
            if not ((batch_acc >= 0) & (batch_acc <= 1)).all():
                raise ValueError("its minibatch accuracies are not all in [0, 1]")
            if not (math.isfinite(seconds) and seconds >= 0):
                raise ValueError(f"its training time is {seconds!r} seconds")
            self.model.load_state_dict(model_state)
        except (KeyError, TypeError, ValueError) as exc:
            raise fail(f"is damaged or incomplete: {type(exc).__name__}: {exc}") from exc
        self.loss_history = history.tolist()
        self.batch_accuracy = batch_acc.tolist()
        self.seconds = seconds
        self.saved_step = self.step

    # ------------------------------------------------------------------ the loop
    def train(self, X: np.ndarray, y: np.ndarray, iters: int | None = None,
              checkpoint: str | Path | None = None, save_every: int = 100,
              progress: bool = True, val: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Train until step ``iters`` (default ``config.iters``), saving every ``save_every``.

        A checkpoint (when ``checkpoint`` is given) is written after every ``save_every``
        steps and after the last one. Steps already done (after :meth:`load`) count.
        ``val`` (X_val, y_val) gives the MLP's per-epoch history its validation accuracy.
        """
        cfg = self.config
        total = cfg.iters if iters is None else int(iters)
        if self.step > total:
            raise ValueError(f"Trainer.train: the run is already at step {self.step}, past "
                             f"the {total} steps asked for; ask for at least {self.step}")
        if save_every < 1:
            raise ValueError(f"Trainer.train: save_every must be at least 1, got {save_every}")
        window: deque[float] = deque(self.batch_accuracy[-RUNNING_WINDOW:],
                                     maxlen=RUNNING_WINDOW)
        bar = progress_bar(total, f"{cfg.loss} on {cfg.dataset}", enabled=progress,
                           initial=self.step, unit="step")

        def after_step(step: int, loss: float) -> None:
            self.loss_history.append(loss)
            self.batch_accuracy.append(self._last_accuracy)
            window.append(self._last_accuracy)
            bar.update(1)
            if step % 10 == 0 or self.step == total:
                bar.set_postfix(loss=f"{loss:.4f}", acc=f"{np.mean(window):.3f}", refresh=False)

        try:
            with one_blas_thread():
                self._run_chunks(X, y, total, checkpoint, save_every, after_step, val)
        finally:
            bar.close()

    def _run_chunks(self, X: np.ndarray, y: np.ndarray, total: int,
                    checkpoint: str | Path | None, save_every: int, after_step: Any,
                    val: tuple | None = None) -> None:
        cfg = self.config
        extra = {"X_val": val[0], "y_val": val[1]} if val and cfg.model == "mlp" else {}
        while self.step < total:
            # chunks end on multiples of save_every, also after resuming mid-way
            chunk = min(save_every - self.step % save_every, total - self.step)
            start = time.perf_counter()
            fresh = self.model.optimizer is None
            # fit raises a clear FloatingPointError on divergence; NumPy's own overflow
            # warnings on the way there would only be noise
            with np.errstate(over="ignore", invalid="ignore"):
                self.model.fit(X, y, lr=cfg.lr, num_iters=chunk, batch_size=cfg.batch_size,
                               momentum=cfg.momentum, callback=after_step, resume=not fresh,
                               lr_decay=cfg.lr_decay, **extra)
            self.seconds += time.perf_counter() - start
            if checkpoint is not None:
                self.save(checkpoint)


def runaway_warning(history: list[float], lr: float) -> str | None:
    """One line when a finite loss ran away from where it started, else None.

    A run runs away when its loss rises above ``RUNAWAY_FACTOR`` times its first value at
    any step, or ends above its first value. (A non-finite loss is an error, raised by fit.)

    >>> runaway_warning([2.3, 1.0, 0.5], lr=0.01) is None
    True
    >>> print(runaway_warning([2.3, 40.0, 1.3e8], lr=10))
    warning: the loss ran away from 2.3 at step 1 to 1.3e+08 at step 3 (the largest is
    5.7e+07 times the first): lower --lr (now 10)
    >>> print(runaway_warning([2.3, 1.0, 2.5], lr=0.5))
    warning: the loss ended above where it started (2.3 at step 1, 2.5 at step 3): lower
    --lr (now 0.5)
    """
    if len(history) < 2:
        return None
    first, last = history[0], history[-1]
    peak_step = int(np.argmax(history))
    peak = history[peak_step]
    if first > 0 and peak > RUNAWAY_FACTOR * first:
        return (f"warning: the loss ran away from {first:.3g} at step 1 to {peak:.3g} at step "
                f"{peak_step + 1} (the largest is {peak / first:.2g} times the first): lower "
                f"--lr (now {lr:g})")
    if last > first:
        return (f"warning: the loss ended above where it started ({first:.3g} at step 1, "
                f"{last:.3g} at step {len(history)}): lower --lr (now {lr:g})")
    return None


def _setting(config: dict[str, Any], key: str) -> Any:
    """A saved setting as the current code writes it (lists were tuples; old files lack some)."""
    value = config.get(key, _OLD_SETTINGS.get(key))
    return tuple(value) if isinstance(value, list) else value
