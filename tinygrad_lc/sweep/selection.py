"""Hyperparameter search as the lecture teaches it: choose on validation, test once.

Build configurations from a search space (``sample`` for random search, ``grid``), run them
with ``run_sweep`` in worker processes or on a Dask cluster, take the best by validation
accuracy, and retrain it for the one look at the test set (``retrain``). ``search`` adds
coarse-to-fine rounds and the edge warnings; ``tinygrad-lc sweep`` is ``search`` plus files.

Every finished trial is a line of ``DIR/trials.jsonl`` at once (``sweep_log``), so a sweep
that is killed loses only its running trials, and ``resume=True`` runs just the others.
Trial i's seed depends only on the sweep's seed and i, so a trial gives the same weights
in this process, in a local worker or on a Dask worker.

Examples
--------
>>> from tinygrad_lc.sweep import LogUniform, run_sweep, sample
>>> configs = sample({"lr": LogUniform(1e-2, 1e0), "iters": 50}, 4, seed=0)
>>> result = run_sweep(configs, "blobs", workers=0)  # doctest: +SKIP
>>> result.best["val_accuracy"] > 0.9  # doctest: +SKIP
True
>>> print(result.table())  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tinygrad_lc.models.training import MLP_DEFAULTS, one_blas_thread
from tinygrad_lc.sweep.limits import MAX_REFINE, MAX_TRIALS
from tinygrad_lc.sweep.log import SweepFileError
from tinygrad_lc.sweep.runner import (
    Runner,
    SweepError,
    SweepResult,
    check_space,
    clip_space,
    normalize_config,
    rounded,
)
from tinygrad_lc.sweep.spaces import (
    Choice,
    LogUniform,
    Uniform,
    edge_warnings,
    grid,
    grid_size,
    narrow,
    sample,
)
from tinygrad_lc.sweep.trial import Task, train, weights_digest

__all__ = ["SWEEP_DEFAULTS", "Choice", "LogUniform", "SweepError", "SweepFileError",
           "SweepResult", "Uniform", "default_space", "grid", "retrain", "run_sweep", "sample",
           "search"]

# What `tinygrad-lc sweep --dataset D` searches when no range is given: ranges around the
# values that train well (measured; see docs/sweeps.md), random trials, finer rounds.
SWEEP_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"space": {"lr": LogUniform(1e-4, 1e-1), "reg": LogUniform(1e-4, 1e0)},
               "trials": 16, "refine": 1},
    "blobs": {"space": {"lr": LogUniform(1e-3, 1e0), "reg": LogUniform(1e-5, 1e-1)},
              "trials": 12, "refine": 1},
    "cifar10": {"space": {"lr": LogUniform(1e-8, 1e-6), "reg": LogUniform(1e2, 1e5)},
                "trials": 12, "refine": 1,
                "by_loss": {"softmax": {"lr": LogUniform(1e-7, 1e-5),
                                        "reg": LogUniform(1e1, 1e4)}}},
}


def default_space(dataset: str, loss: str | None = None, model: str = "linear"
                  ) -> dict[str, Any]:
    """The ranges ``tinygrad-lc sweep --dataset D --loss L`` searches by default; for
    ``--model mlp`` one decade either side of the MLP's own defaults.

    >>> default_space("digits")
    {'lr': LogUniform(low=0.0001, high=0.1), 'reg': LogUniform(low=0.0001, high=1.0)}
    >>> default_space("digits", model="mlp")["lr"]
    LogUniform(low=0.001, high=0.1)
    """
    if model == "mlp":
        mlp = MLP_DEFAULTS[dataset]
        return {k: LogUniform(mlp[k] / 10, mlp[k] * 10) for k in ("lr", "reg")}
    defaults = SWEEP_DEFAULTS[dataset]
    return {**defaults["space"], **defaults.get("by_loss", {}).get(loss, {})}


def run_sweep(configs: Sequence[Mapping[str, Any]], dataset: str,
              base: Mapping[str, Any] | None = None, workers: int | None = None,
              scheduler: str | None = None, out: str | Path | None = None,
              resume: bool = False, seed: int = 0, *, progress: bool = False) -> SweepResult:
    """Train every configuration on ``dataset`` and score it on the validation set.

    Parameters
    ----------
    configs : list of dict
        ``train`` options per trial (``sample`` or ``grid`` make them); trial i is
        ``configs[i]`` on top of ``base``, with the data set's defaults for the rest.
    dataset : str
        "digits", "blobs" or "cifar10".
    base : dict, optional
        Options shared by all trials (e.g. ``{"loss": "softmax", "iters": 1000}``).
    workers : int, optional
        Local worker processes (default: one per core); 0 runs the trials in this process.
    scheduler : str, optional
        A Dask distributed scheduler, "tcp://host:port": the trials run on its workers
        (``workers`` is then ignored). Needs ``pip install 'tinygrad_lc[cluster]'``.
    out : path, optional
        Folder for ``trials.jsonl`` (one line per finished trial, fsynced).
    resume : bool
        Skip the trials already in ``out/trials.jsonl`` (they must be this sweep's).
    seed : int
        Seeds the data split and, with the trial's number, each trial's init and batches.
    progress : bool
        A tqdm bar over the trials with the best validation accuracy so far.

    Returns
    -------
    SweepResult
        ``trials`` (status "ok", "diverged" or "failed" each), ``best``, ``table()``.

    Raises
    ------
    SweepError
        An unknown option or a bad value (a ``scheduler`` that is not ``tcp://HOST:PORT``);
        ``out`` holding another sweep (SweepFileError).
    ImportError
        ``scheduler`` given without Dask distributed installed.
    ConnectionError
        No Dask scheduler at ``scheduler``: nothing listens, nothing answered the connection
        and the handshake within 5 s, or what answered is not a Dask scheduler.
    KeyboardInterrupt
        Ctrl-C: the running trials are stopped, the finished ones are in trials.jsonl.
    """
    with contextlib.closing(Runner(dataset, seed, workers, scheduler, out, resume, progress,
                                   len(configs))) as sweep:
        sweep.run([{**(base or {}), **rounded(c)} for c in configs])
        return sweep.result()


# ---------------------------------------------------------------------- coarse to fine
def check_search(space: Mapping[str, Any], dataset: str, trials: int | None = None,
                 grid_k: int | None = None, refine: int = 0,
                 base: Mapping[str, Any] | None = None, option_name: Any = None) -> None:
    """Raise SweepError for what ``search`` with these arguments would refuse before any
    trial runs: bad counts, too many trials or rounds, a space with settings that ``train``
    refuses (``check_space``). Nothing is made or written."""
    spell = option_name or (lambda name: name)
    for name, value in (("trials", trials), ("grid_k", grid_k), ("refine", refine)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < (0 if name == "refine" else 1)):
            raise SweepError(f"search: {spell(name)} must be an integer >= "
                             f"{0 if name == 'refine' else 1}, got {value!r}")
    if (trials is None) == (grid_k is None):
        raise SweepError("search: give either trials (random search) or grid_k (a grid)")
    if refine > MAX_REFINE:
        raise SweepError(f"search: {spell('refine')} must be at most {MAX_REFINE} (each round "
                         f"halves the ranges: after {MAX_REFINE} they are a millionth as wide),"
                         f" got {refine:,}")
    check_space(space, "search")  # the names and types, before counting
    if grid_k is None:
        assert trials is not None  # exactly one of trials and grid_k (checked above)
        per_round = trials
    else:
        per_round = grid_size(space, grid_k)
    if per_round * (1 + refine) > MAX_TRIALS:
        made = (f"{spell('trials')} {trials:,}" if grid_k is None else
                f"{spell('grid_k')} {grid_k:,} ({per_round:,} combinations)")
        raise SweepError(f"search: {made} in {1 + refine} round(s) makes "
                         f"{per_round * (1 + refine):,} trials; a sweep runs at most "
                         f"{MAX_TRIALS:,} (ask for fewer trials or rounds)")
    check_space(space, "search", dataset, base, option_name)


def search(space: Mapping[str, Any], dataset: str, trials: int | None = None,
           grid_k: int | None = None, refine: int = 0, base: Mapping[str, Any] | None = None,
           workers: int | None = None, scheduler: str | None = None,
           out: str | Path | None = None, resume: bool = False, seed: int = 0, *,
           progress: bool = False, option_name: Any = None) -> SweepResult:
    """Random search (``trials``) or a grid (``grid_k``), then ``refine`` rounds of random
    search, each with the ranges halved (log scale) around the best trial so far.

    Each round has as many trials as the first; their numbers follow on, so one
    ``trials.jsonl`` holds them all and ``resume`` works across rounds (the rounds' ranges
    follow from the recorded trials, which are the same on every run; a narrowed range
    stops where ``train`` would refuse its values). The result's ``warnings`` list the
    ranges whose best value lies in their outer 10%.

    Before any trial runs, the space is checked as ``train`` checks its settings (every
    range's ends, every listed and fixed value), and the sizes: ``refine`` at most
    ``MAX_REFINE`` (20), all rounds' trials together at most ``MAX_TRIALS`` (100,000).
    ``option_name(name)`` spells an option in the messages (default: the name itself).

    Examples
    --------
    >>> space = {"lr": LogUniform(1e-3, 1e0), "reg": LogUniform(1e-4, 1e-1), "iters": 50}
    >>> result = search(space, "blobs", trials=4, refine=1, workers=0)  # doctest: +SKIP
    >>> len(result.trials), [len(s) for s in result.spaces]  # doctest: +SKIP
    (8, [3, 3])
    """
    check_search(space, dataset, trials, grid_k, refine, base, option_name)
    base = dict(base or {})
    configs = grid(space, grid_k) if grid_k is not None else sample(space, trials or 0, seed)
    n = len(configs)
    spaces = [dict(space)]
    with contextlib.closing(Runner(dataset, seed, workers, scheduler, out, resume, progress,
                                   n * (1 + refine))) as sweep:
        current = dict(space)
        for round_ in range(refine + 1):
            if round_:
                best = sweep.result().best
                if best is None:
                    break  # nothing to refine around
                current = clip_space(narrow(current, best["config"]), best["config"],
                                     dataset)
                spaces.append(current)
                configs = sample(current, n, [seed, round_])
            sweep.run([{**base, **rounded(c)} for c in configs], first=round_ * n,
                      extra={"round": round_})
        result = sweep.result(spaces=spaces)
    if result.best is not None:
        result.warnings += edge_warnings(space, result.best["config"], option_name)
    return result


def retrain(trial: Mapping[str, Any]) -> tuple[Any, Any, dict[str, float]]:
    """Train ``trial``'s configuration again, with its seed, on the same data, and score
    it on all three splits: the sweep's one look at the test set.

    Returns
    -------
    trainer : training.Trainer
    data : training.Dataset
    accuracies : dict
        "train", "val" and "test"; train and val equal the trial's (same weights).

    Raises
    ------
    SweepFileError
        The weights are the trial's, bit for bit, but its recorded accuracies are not what
        they give: the record was edited.
    """

    task = Task(trial["trial"], trial["seed"], trial["dataset"], trial["data_seed"],
                normalize_config(trial["config"]))
    with one_blas_thread():
        trainer, data = train(task)
        accuracies = data.accuracies(trainer.model)
    recorded, digest = trial.get("weights_sha256"), weights_digest(trainer.model)
    said = (trial.get("val_accuracy"), trial.get("train_accuracy"))
    if recorded == digest and said != (accuracies["val"], accuracies["train"]):
        raise SweepFileError(
            f"retrain: trial {trial['trial']}'s record says validation accuracy {said[0]} "
            f"(training {said[1]}), but its weights, the same bit for bit as the sweep's "
            f"(SHA-256), give {accuracies['val']} ({accuracies['train']}): the record was "
            "changed after the sweep wrote it. Delete its line from trials.jsonl (--resume "
            "then runs that trial again).")
    if recorded is not None and recorded != digest:
        # e.g. another NumPy or BLAS than the worker that ran the trial
        warnings.warn(f"retrain: trial {trial['trial']} retrained here gives other weights than "
                      f"the sweep recorded (validation accuracy {accuracies['val']:.4f}, "
                      f"recorded {trial.get('val_accuracy')})", UserWarning, stacklevel=2)
    return trainer, data, accuracies
