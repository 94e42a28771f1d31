"""Running a sweep: the loop over trials, written once for every executor.

``Runner`` holds one sweep's executor (``sweep_exec``), its ``trials.jsonl`` (``sweep_log``)
and its progress bar across the rounds of a search. It hands trials to the executor as it
has room, records each finished trial at once (a line written whole even when Ctrl-C
comes), runs a trial again once when its worker died, and on resume checks that the
recorded trials are this sweep's. ``SweepResult`` is what it returns.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinygrad_lc.models.training import DATASETS, TrainConfig
from tinygrad_lc.sweep.executors import (
    MAX_STARTS,
    DaskCluster,
    InProcess,
    LocalProcesses,
    WorkerDied,
    default_workers,
)
from tinygrad_lc.sweep.log import SweepFileError, TrialLog, read_trials
from tinygrad_lc.sweep.spaces import Choice, LogUniform, Uniform
from tinygrad_lc.sweep.trial import Task, config_fields, failed_result, shared_dataset, trial_seed
from tinygrad_lc.util import interrupts
from tinygrad_lc.util.progress import progress_bar

__all__ = ["Runner", "SweepError", "SweepResult", "check_space", "normalize_config", "rounded"]

TRIALS_FILE = "trials.jsonl"
WAIT = 0.5  # seconds between looks at the running trials (and at Ctrl-C)


class SweepError(ValueError):
    """A bad sweep request: unknown option, bad value, a folder holding another sweep."""


# ---------------------------------------------------------------------- configurations
def _effective(dataset: str, config: Mapping[str, Any]) -> Any:
    """Every setting a trial of ``config`` trains with, defaults included (the config itself
    when it is not one TrainConfig takes, so that it compares unequal to a good one)."""
    try:
        return TrainConfig.for_dataset(dataset, **config).to_dict()
    except (TypeError, ValueError):
        return dict(config)


def normalize_config(config: Mapping[str, Any], where: str = "run_sweep") -> dict[str, Any]:
    """``config`` with ``train`` option names as TrainConfig spells them and values of
    their types (``iters=1e3`` becomes 1000).

    >>> normalize_config({"batch-size": 100.0, "lr": "0.1"})
    {'batch_size': 100, 'lr': 0.1}
    """
    types = config_fields()
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = str(key).replace("-", "_")
        if name == "seed":
            raise SweepError(f"{where}: seed is not a sweep option: each trial's seed comes "
                             "from the sweep's seed and the trial's number")
        if name == "dataset":
            raise SweepError(f"{where}: the data set is run_sweep's dataset argument, not an "
                             "option of a configuration")
        if name not in types:
            raise SweepError(f"{where}: unknown train option {key!r}; a sweep can set "
                             f"{', '.join(sorted(types))}")
        kind = types[name]
        try:
            if kind is tuple:  # hidden layer widths: (100, 50), [100, 50] or "100,50"
                parts = value.split(",") if isinstance(value, str) else value
                value = tuple(int(v) for v in parts)
            elif kind is int:
                number = float(value)
                if not number.is_integer():
                    raise ValueError(f"not a whole number: {value!r}")
                value = int(number)
            elif kind is float:
                value = float(value)
            else:
                value = str(value)
        except (TypeError, ValueError) as exc:
            raise SweepError(f"{where}: option {name} must be {kind.__name__}, got {value!r} "
                             f"({exc})") from None
        out[name] = value
    return out


def check_space(space: Mapping[str, Any], where: str = "search") -> None:
    """Raise SweepError for an unknown option, a range over a text option (loss,
    regularizer: use Choice) or a fixed or listed value of the wrong type."""
    types = config_fields()
    for key, value in space.items():
        if isinstance(value, LogUniform | Uniform):
            normalize_config({key: 1}, where)  # the name
            if types[str(key).replace("-", "_")] is str:
                raise SweepError(f"{where}: {key} takes names, not numbers: give a list of "
                                 "choices instead of a range")
        elif isinstance(value, Choice):
            for v in value.values:
                normalize_config({key: v}, where)
        else:
            normalize_config({key: value}, where)


def rounded(config: Mapping[str, Any]) -> dict[str, Any]:
    """Whole-number options drawn from a range (iters 1234.5) rounded to the nearest."""
    types = config_fields()
    return {k: round(v) if types.get(k.replace("-", "_")) is int and isinstance(v, float)
            else v for k, v in config.items()}


# ---------------------------------------------------------------------- results
@dataclass
class SweepResult:
    """The trials of a sweep and where they ran.

    Attributes
    ----------
    trials : list of dict
        One record per trial, by trial number (see ``sweep_trial.run_trial``).
    dataset : str
    seed : int
        The sweep's seed (data split, sampling, each trial's seed).
    executor : str
        "in-process", "local processes" or "dask tcp://host:port".
    workers : int
    seconds : float
        Wall time of this call (a resumed sweep counts only its own part).
    warnings : list of str
        Edge warnings (``search``) and notes.
    """

    trials: list[dict[str, Any]]
    dataset: str
    seed: int = 0
    executor: str = "in-process"
    workers: int = 1
    seconds: float = 0.0
    out: Path | None = None
    warnings: list[str] = field(default_factory=list)
    spaces: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any] | None:
        """The "ok" trial with the highest validation accuracy (the earliest on a tie);
        None when no trial finished. Never chosen by test accuracy."""
        ok = [t for t in self.trials if t["status"] == "ok" and t.get("val_accuracy") is not None]
        return max(ok, key=lambda t: (t["val_accuracy"], -t["trial"])) if ok else None

    def counts(self) -> dict[str, int]:
        """How many trials ended in each status."""
        return dict(Counter(t["status"] for t in self.trials))

    def varied(self) -> list[str]:
        """The options whose value differs between trials (lr and reg first)."""
        keys: dict[str, None] = {}
        for t in self.trials:
            keys.update(dict.fromkeys(t["config"]))
        varied = [k for k in keys if len({repr(t["config"].get(k)) for t in self.trials}) > 1]
        return sorted(varied, key=lambda k: (k not in ("lr", "reg"), k != "lr", k))

    def table(self, limit: int | None = None) -> str:
        """The trials as a text table, best validation accuracy first (failures last)."""
        keys = self.varied()
        header = ["trial", *keys, "status", "train acc", "val acc", "final loss", "seconds"]

        def fmt(v: Any, spec: str = ".3g") -> str:
            return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)

        ranked = sorted(self.trials, key=lambda t: (t.get("val_accuracy") is None,
                                                    -(t.get("val_accuracy") or 0), t["trial"]))
        rows = [[str(t["trial"]), *(fmt(t["config"].get(k)) for k in keys), t["status"],
                 fmt(t.get("train_accuracy"), ".4f"), fmt(t.get("val_accuracy"), ".4f"),
                 fmt(t.get("final_loss"), ".4g"), fmt(t.get("seconds"), ".1f")]
                for t in ranked[:limit]]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        if limit is not None and len(ranked) > limit:
            lines.append(f"... and {len(ranked) - limit} more")
        return "\n".join(lines)


# ---------------------------------------------------------------------- running
class Runner:
    """One sweep's executor, log and progress bar, kept across rounds."""

    def __init__(self, dataset: str, seed: int, workers: int | None, scheduler: str | None,
                 out: str | Path | None, resume: bool, progress: bool, total: int | None,
                 trial: Any = None):

        if dataset not in DATASETS:
            raise SweepError(f"run_sweep: dataset must be one of {', '.join(DATASETS)}, "
                             f"got {dataset!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SweepError(f"run_sweep: seed must be an integer >= 0, got {seed!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or workers < 0):
            raise SweepError(f"run_sweep: workers must be an integer >= 0 (0: in this "
                             f"process), got {workers!r}")
        if resume and out is None:
            raise SweepError("run_sweep: resume=True needs the out folder of the sweep to resume")
        self.dataset, self.seed, self.scheduler = dataset, seed, scheduler
        self.workers = default_workers() if workers is None else workers
        self.trial = trial
        self.out = Path(out) if out is not None else None
        self.done: dict[int, dict[str, Any]] = {}
        self.log: TrialLog | None = None
        if self.out is not None:
            path = self.out / TRIALS_FILE
            if resume:
                self.done = {t["trial"]: t for t in read_trials(path, repair=True)}
            elif read_trials(path):
                raise SweepFileError(
                    f"run_sweep: {path} already holds trials of a sweep; resume it "
                    "(resume=True, --resume) or choose another out folder (nothing was "
                    "changed)")
            self.log = TrialLog(path)
        self.executor: Any = None
        self._standardize: set[bool] = set()
        self.records: dict[int, dict[str, Any]] = {}
        self.bar = progress_bar(total, f"sweep {dataset}", enabled=progress, unit="trial")
        self.start = time.perf_counter()

    # -- the executor, started when the first trial needs it
    def _executor(self) -> Any:
        if self.executor is None:
            kw = {} if self.trial is None else {"trial": self.trial}
            if self.scheduler is not None:
                self.executor = DaskCluster(self.scheduler, **kw)
            else:
                # build the shared data once here, so the workers only map it
                for standardize in self._standardize:
                    shared_dataset(self.dataset, self.seed, standardize=standardize)
                self.executor = (InProcess(**kw) if self.workers == 0
                                 else LocalProcesses(self.workers, **kw))
        return self.executor

    @property
    def executor_name(self) -> str:
        if self.executor is not None:
            return self.executor.name
        if self.scheduler is not None:
            return f"dask {self.scheduler}"
        return "in-process" if self.workers == 0 else "local processes"

    def _best_text(self) -> str:
        vals = [t["val_accuracy"] for t in self.records.values()
                if t["status"] == "ok" and t.get("val_accuracy") is not None]
        return f"{max(vals):.4f}" if vals else "-"

    def _record(self, record: dict[str, Any], extra: Mapping[str, Any]) -> None:
        record = {**record, **extra}
        with interrupts.deferred():  # Ctrl-C or SIGTERM waits for the line to be whole
            if self.log is not None:
                self.log.append(record)
            self.records[record["trial"]] = record
            self.bar.update(1)
            self.bar.set_postfix(best_val=self._best_text(), refresh=False)

    def run(self, configs: Sequence[Mapping[str, Any]], first: int = 0,
            extra: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run ``configs`` as trials ``first``, ``first + 1``, ...; return their records."""
        extra = dict(extra or {})
        tasks = [Task(first + i, trial_seed(self.seed, first + i), self.dataset, self.seed,
                      normalize_config(c)) for i, c in enumerate(configs)]
        todo = deque()
        for task in tasks:
            old = self.done.get(task.index)
            if old is None:
                todo.append(task)
                continue
            try:  # as read from JSON: hidden widths come back as a list
                recorded = normalize_config(old["config"])
            except (SweepError, AttributeError) as exc:
                raise SweepFileError(f"run_sweep: {self.out and self.out / TRIALS_FILE}: trial "
                                     f"{task.index} has a bad config ({exc})") from None
            theirs = (old.get("dataset"), old.get("data_seed"), old.get("seed"), recorded)
            mine = (task.dataset, task.data_seed, task.seed, task.config)
            # the same run when the settings in effect are: a default spelled out (--loss
            # svm) or left out is the same setting
            if theirs[:3] != mine[:3] or _effective(task.dataset, recorded) != \
                    _effective(task.dataset, task.config):
                raise SweepFileError(
                    f"run_sweep: {self.out and self.out / TRIALS_FILE} "
                    f"was written by another sweep: its "
                    f"trial {task.index} is {theirs[3]} on {theirs[0]} (data seed {theirs[1]}, "
                    f"trial seed {theirs[2]}), this sweep's is {mine[3]} on {mine[0]} (data "
                    f"seed {mine[1]}, trial seed {mine[2]}). Resume with the settings it was "
                    "started with, or use another out folder (nothing was changed).")
            self.records[task.index] = old
            self.bar.update(1)
        self.bar.set_postfix(best_val=self._best_text(), refresh=False)
        # SIGINT or SIGTERM: the workers are stopped, the recorded trials stay
        self._standardize = {t.config.get("model") == "mlp" for t in todo}  # see _executor
        with interrupts.stop_on_signals():
            try:
                self._loop(todo, extra)
            except BaseException:
                if self.executor is not None:
                    self.executor.stop()
                    self.executor = None
                raise
        return [self.records[t.index] for t in tasks]

    def _loop(self, todo: deque, extra: Mapping[str, Any]) -> None:
        running: dict[Any, Task] = {}
        deaths: Counter = Counter()
        while todo or running:
            while todo and len(running) < self._executor().capacity:
                task = todo.popleft()
                running[self.executor.submit(task, deaths[task.index])] = task
            for future in self.executor.wait(list(running), WAIT):
                task = running.pop(future)
                starts = deaths[task.index] + 1
                try:
                    record = self.executor.result(future)
                except WorkerDied as exc:
                    deaths[task.index] += 1
                    if deaths[task.index] < MAX_STARTS:  # once more, first in line
                        todo.appendleft(task)
                        continue
                    record = failed_result(task, f"its worker died {MAX_STARTS} times: {exc}")
                except Exception as exc:  # noqa: BLE001 - e.g. it could not be sent
                    record = failed_result(task, f"{type(exc).__name__}: {exc}")
                # on Dask the scheduler re-runs a lost worker's trial; the trial counted
                starts = record.pop("starts", starts)
                self._record({**record, "attempts": starts}, extra)

    def result(self, **extra: Any) -> SweepResult:
        return SweepResult(
            [self.records[i] for i in sorted(self.records)], self.dataset, self.seed,
            executor=self.executor_name,
            workers=self.executor.workers if self.executor is not None else (
                self.workers if self.scheduler is None else 0),
            seconds=time.perf_counter() - self.start, out=self.out, **extra)

    def close(self) -> None:
        self.bar.close()
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        if self.log is not None:
            self.log.close()
