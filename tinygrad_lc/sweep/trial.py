"""One trial of a sweep: a configuration trained on the shared data, wherever it runs.

``run_trial(task)`` is the only function a sweep runs, in this process, in a local worker
process or on a Dask worker; a ``Task`` carries only the configuration, the data set's name
and the seeds, so it is small to send. Each process loads the data once (``shared_dataset``:
memory-mapped from the data cache, so the processes of one machine share one copy) and keeps
it for its later trials. Training is ``training.Trainer``, the loop of ``tinygrad-lc train``,
with BLAS pinned to one thread, so a trial gives bit-identical weights wherever it runs.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

import numpy as np

from tinygrad_lc.data import sources
from tinygrad_lc.data.cache import cached_arrays
from tinygrad_lc.data.cifar10 import cifar10_fingerprint
from tinygrad_lc.data.datasets import accuracy
from tinygrad_lc.data.digits import DIGITS_FILE
from tinygrad_lc.models import training
from tinygrad_lc.models.training import (
    Dataset,
    TrainConfig,
    Trainer,
    load_dataset,
    one_blas_thread,
)
from tinygrad_lc.util.lifetime import exit_with_parent

__all__ = ["Task", "run_trial", "shared_dataset", "trial_seed"]

_SPLITS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
_loaded: dict[tuple[str, int, bool], Any] = {}  # this process's data sets, loaded once
_lock = threading.Lock()  # a Dask worker may run trials in several threads


def trial_seed(sweep_seed: int, index: int) -> int:
    """Trial ``index``'s seed (init and minibatches): a function of the sweep's seed and the
    index only, the same on every machine (NumPy's ``SeedSequence`` spawning).

    >>> trial_seed(0, 0) == trial_seed(0, 0) != trial_seed(0, 1)
    True
    """
    seq = np.random.SeedSequence(int(sweep_seed), spawn_key=(int(index),))
    return int(seq.generate_state(1, np.uint32)[0])


@dataclass(frozen=True)
class Task:
    """What a worker needs for one trial: small, picklable, no arrays.

    ``config`` holds ``train`` options (``TrainConfig`` field names) other than ``dataset``
    and ``seed``; ``seed`` is the trial's own (``trial_seed``), ``data_seed`` the split's.
    """

    index: int
    seed: int
    dataset: str
    data_seed: int
    config: dict[str, Any] = field(default_factory=dict)


def _pipeline_version() -> str:
    """A hash of the code that builds the arrays: change the preprocessing, the dtype or
    the split, and the cache key changes with it."""
    parts = [training.load_dataset, training.three_way, training.split_rng,
             sources.preprocess, sources.train_val_split, sources.make_blobs]
    source = "".join(inspect.getsource(f) for f in parts)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _source_fingerprint(name: str) -> Any:
    if name == "cifar10":
        return cifar10_fingerprint()
    if name == "digits":  # the file shipped in the package
        shipped = resources.files("tinygrad_lc.data").joinpath(DIGITS_FILE).read_bytes()
        return f"{DIGITS_FILE} sha256 {hashlib.sha256(shipped).hexdigest()[:16]}"
    return "generated"  # blobs: made from the seed by the code in the pipeline hash


def shared_dataset(name: str, seed: int = 0, standardize: bool = False) -> Any:
    """``training.load_dataset(name, seed, standardize=...)`` through the data cache,
    memory-mapped.

    The first call on a machine builds the arrays and stores them in the cache
    (``data.cached_arrays``), keyed by the data set, the split seed, the preprocessing
    (code and ``standardize``, the MLP's) and the source files; every later call, in any
    process, maps them read-only. The result is cached in this process too.

    Examples
    --------
    >>> d = shared_dataset("blobs", seed=0)  # doctest: +SKIP
    >>> type(d.X_train).__name__, d.X_train.flags.writeable  # doctest: +SKIP
    ('memmap', False)
    """

    seed, standardize = int(seed), bool(standardize)
    with _lock:
        if (name, seed, standardize) in _loaded:
            return _loaded[(name, seed, standardize)]
        fingerprint = _source_fingerprint(name)
        first: list[Any] = []
        if fingerprint is None:  # CIFAR-10 not extracted yet: loading extracts (or downloads)
            first.append(load_dataset(name, seed, standardize=standardize))
            fingerprint = _source_fingerprint(name)

        def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
            d = first.pop() if first else load_dataset(name, seed, standardize=standardize)
            meta = {"image_shape": d.image_shape, "class_names": list(d.class_names)}
            return {k: getattr(d, k) for k in _SPLITS}, meta

        key = {"what": "tinygrad_lc.training.load_dataset", "dataset": name, "seed": seed,
               "standardize": standardize, "pipeline": _pipeline_version(),
               "source": fingerprint}
        arrays, meta = cached_arrays(key, build)
        shape = meta["image_shape"]
        data = Dataset(name, *(arrays[k] for k in _SPLITS),
                       image_shape=None if shape is None else tuple(shape),
                       class_names=tuple(meta["class_names"]))
        _loaded[(name, seed, standardize)] = data
        return data


def _finite(value: float) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _result(task: Task, status: str, **values: Any) -> dict[str, Any]:
    return {"trial": task.index, "seed": task.seed, "dataset": task.dataset,
            "data_seed": task.data_seed, "config": dict(task.config), "status": status,
            "train_accuracy": None, "val_accuracy": None, "final_loss": None,
            "seconds": None, "steps": None, "weights_sha256": None, "error": None,
            "warnings": [], "worker": f"{socket.gethostname()}:{os.getpid()}", **values}


def failed_result(task: Task, error: str) -> dict[str, Any]:
    """The record of a trial that could not run (its worker died, it could not be sent)."""
    return _result(task, "failed", error=error, worker=None)


def train_config(task: Task) -> Any:
    """The ``TrainConfig`` a task trains with: the data set's defaults, the task's options
    and the trial's seed."""

    return TrainConfig.for_dataset(task.dataset, **task.config, seed=task.seed)


def train(task: Task) -> tuple[Any, Any]:
    """Train the task's configuration on its shared data; return ``(trainer, data)``.

    Raises what training raises (``FloatingPointError`` when it diverges).
    """

    cfg = train_config(task)
    data = shared_dataset(task.dataset, task.data_seed, standardize=cfg.model == "mlp")
    trainer = Trainer(cfg, data.num_features, data.num_classes)
    # one chunk: no checkpoints, so no reason to re-check X every 100 steps
    trainer.train(data.X_train, data.y_train, save_every=max(cfg.iters, 1), progress=False)
    return trainer, data


def weights_digest(model: Any) -> str:
    """SHA-256 of the trained parameters' bytes (W of the linear model; every layer's
    weights and biases of the MLP): equal digests mean bit-identical weights."""
    params = [model.W] if hasattr(model, "W") else model.net.parameters()
    digest = hashlib.sha256()
    for p in params:
        digest.update(np.ascontiguousarray(p.data).tobytes())
    return digest.hexdigest()


def run_trial(task: Task) -> dict[str, Any]:
    """Train ``task``'s configuration and score it on the training and validation sets.

    Never touches the test set. Training problems do not raise: a NaN or infinite loss
    gives status ``"diverged"``, any other error ``"failed"``, each with the message in
    ``error``. Warnings raised while training are collected in ``warnings``.

    Returns
    -------
    dict
        ``trial``, ``seed``, ``dataset``, ``data_seed``, ``config``, ``status``,
        ``train_accuracy``, ``val_accuracy``, ``final_loss`` (the last minibatch loss),
        ``seconds`` (training and scoring, not loading the data), ``steps``,
        ``weights_sha256``, ``error``, ``warnings``, ``worker`` (host:pid).

    Examples
    --------
    >>> r = run_trial(Task(0, trial_seed(0, 0), "blobs", 0, {"iters": 50}))  # doctest: +SKIP
    >>> r["status"], r["val_accuracy"] > 0.9  # doctest: +SKIP
    ('ok', True)
    """

    try:  # loading is not the trial's time
        shared_dataset(task.dataset, task.data_seed,
                       standardize=task.config.get("model") == "mlp")
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        return _result(task, "failed", error=f"loading {task.dataset}: "
                                             f"{type(exc).__name__}: {exc}")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, one_blas_thread():
        warnings.simplefilter("always")
        try:
            trainer, data = train(task)
            model = trainer.model
            values: dict[str, Any] = {
                "train_accuracy": accuracy(model, data.X_train, data.y_train),
                      "val_accuracy": accuracy(model, data.X_val, data.y_val)}
            status, error = "ok", None
        except FloatingPointError as exc:
            status, error, values, trainer = "diverged", str(exc), {}, None
        except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
            status, error, values, trainer = "failed", f"{type(exc).__name__}: {exc}", {}, None
    history = trainer.loss_history if trainer is not None else []
    if trainer is not None:
        values.update(final_loss=_finite(history[-1]) if history else None,
                      steps=trainer.step, weights_sha256=weights_digest(trainer.model))
    return _result(task, status, error=error, seconds=time.perf_counter() - start,
                   warnings=sorted({str(w.message) for w in caught}), **values)


def init_worker(parent: int | None = None) -> None:
    """Set up a local worker process: it ends when the sweep process ``parent`` (a pid)
    ends, however that ends (``lifetime.exit_with_parent``), Ctrl-C is the sweep process's
    to handle (it stops the workers), and BLAS keeps to one thread so K workers use K cores,
    not K times more."""
    # only in a worker process, which ignores Ctrl-C (the parent handles it)
    import signal

    if parent is not None:
        exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # threadpoolctl is optional (the cluster extra)
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    global _blas_limit
    _blas_limit = threadpool_limits(limits=1, user_api="blas")


_blas_limit: Any = None


def config_fields() -> dict[str, type]:
    """``train`` options a sweep may set, with their types (TrainConfig's fields but
    ``dataset``, given per sweep, and ``seed``, given per trial)."""

    types = {"int": int, "float": float, "str": str, "tuple[int, ...]": tuple}
    return {f.name: types.get(str(f.type), str) for f in fields(TrainConfig)
            if f.name not in ("dataset", "seed")}
