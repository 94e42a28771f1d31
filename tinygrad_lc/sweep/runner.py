"""Running a sweep: the loop over trials, written once for every executor.

``Runner`` holds one sweep's executor (``sweep_exec``), its ``trials.jsonl`` (``sweep_log``)
and its progress bar across the rounds of a search. It hands trials to the executor as it
has room, records each finished trial at once (a line written whole even when Ctrl-C
comes), runs a trial again once when its worker died, and on resume checks that the
recorded trials are this sweep's. ``SweepResult`` is what it returns.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinygrad_lc.core.display import clip_text, html_fields, html_grid
from tinygrad_lc.models.training import DATASETS, TrainConfig
from tinygrad_lc.sweep.executors import (
    MAX_STARTS,
    DaskCluster,
    InProcess,
    LocalProcesses,
    WorkerDied,
    check_address,
    default_workers,
)
from tinygrad_lc.sweep.limits import MAX_WORKERS
from tinygrad_lc.sweep.log import SweepFileError, TrialLog, read_trials, writer_lock
from tinygrad_lc.sweep.spaces import Choice, LogUniform, Uniform
from tinygrad_lc.sweep.trial import Task, config_fields, failed_result, shared_dataset, trial_seed
from tinygrad_lc.util import interrupts
from tinygrad_lc.util.progress import progress_bar
from tinygrad_lc.util.table import text_table

__all__ = ["Runner", "SweepError", "SweepResult", "check_config", "check_space", "clip_space",
           "normalize_config", "rounded"]

TRIALS_FILE = "trials.jsonl"
WAIT = 0.5  # seconds between looks at the running trials (and at Ctrl-C)
CORNERS = 1024  # check_space tries every combination of ends and choices up to this many


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


def check_config(dataset: str, config: Mapping[str, Any], where: str = "run_sweep",
                 spell: Callable[[str], str] | None = None) -> None:
    """Raise SweepError for a configuration that ``tinygrad-lc train`` refuses
    (``TrainConfig.check``, the same check): ``config`` as ``normalize_config`` returns it.

    >>> check_config("blobs", {"momentum": 1.5})
    Traceback (most recent call last):
    ...
    tinygrad_lc.sweep.runner.SweepError: run_sweep: momentum must be in [0, 1), got 1.5
    """
    try:
        TrainConfig.for_dataset(dataset, **config).check(spell=spell or str)
    except (TypeError, ValueError) as exc:
        raise SweepError(f"{where}: {exc}") from None


def check_space(space: Mapping[str, Any], where: str = "search", dataset: str | None = None,
                base: Mapping[str, Any] | None = None,
                spell: Callable[[str], str] | None = None) -> None:
    """Raise SweepError for an unknown option, a range over a text option (loss,
    regularizer: use Choice) or a fixed or listed value of the wrong type; with ``dataset``,
    also for any setting ``train`` refuses (``check_config``) at the ends of the ranges, in
    the lists and among the fixed values (every combination, up to ``CORNERS`` of them;
    beyond, each value with the others at their first)."""
    types = config_fields()
    axes: list[list[tuple[str, Any]]] = []
    for key, value in space.items():
        if isinstance(value, LogUniform | Uniform):
            normalize_config({key: 1}, where)  # the name
            if types[str(key).replace("-", "_")] is str:
                raise SweepError(f"{where}: {key} takes names, not numbers: give a list of "
                                 "choices instead of a range")
            values = [value.low, value.high]
        elif isinstance(value, Choice):
            values = list(value.values)
            for v in values:
                normalize_config({key: v}, where)
        else:
            values = [value]
            normalize_config({key: value}, where)
        axes.append([(key, v) for v in values])
    if dataset is None:
        return
    if math.prod(len(a) for a in axes) <= CORNERS:
        combinations: Any = itertools.product(*axes)
    else:  # too many: each value once, the other options at their first
        first = [a[0] for a in axes]
        combinations = ([*first[:i], pair, *first[i + 1:]]
                        for i, a in enumerate(axes) for pair in a)
    for combination in combinations:
        config = normalize_config({**(base or {}), **rounded(dict(combination))}, where)
        check_config(dataset, config, where, spell)


def clip_space(space: Mapping[str, Any], best: Mapping[str, Any], dataset: str
               ) -> dict[str, Any]:
    """``space`` with each range end that ``train`` refuses moved to the last value it takes
    (bisected between that end and ``best``'s value): a finer round's range around a best
    value near a limit (momentum 0.98) would otherwise reach past it (momentum 1.2).

    >>> space = clip_space({"momentum": Uniform(0.73, 1.23)}, {"momentum": 0.98}, "blobs")
    >>> 0.999 < space["momentum"].high < 1
    True
    """
    def takes(key: str, value: float) -> bool:
        try:
            check_config(dataset, normalize_config({**best, **rounded({key: value})}))
        except SweepError:
            return False
        return True

    out = dict(space)
    for key, value in space.items():
        if not isinstance(value, LogUniform | Uniform) or key not in best:
            continue
        ends = []
        for end in (value.low, value.high):
            inside = float(best[key])
            if not takes(key, end):
                for _ in range(64):  # halving the gap to float precision
                    middle = (inside + end) / 2
                    if middle in (inside, end):
                        break
                    inside, end = (middle, end) if takes(key, middle) else (inside, middle)
                end = inside
            ends.append(end)
        if ends != [value.low, value.high]:
            out[key] = type(value)(*ends)
    return out


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

    def _ranked(self, limit: int | None) -> tuple[list[str], list[list[str]], int]:
        """The header, the rows of the best ``limit`` trials (best validation accuracy first,
        failures last) as text, and how many more trials there are."""
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
        return header, rows, len(ranked) - len(rows)

    def table(self, limit: int | None = None) -> str:
        """The trials as a text table, best validation accuracy first (failures last)."""
        header, rows, more = self._ranked(limit)
        return text_table(header, rows) + (f"\n... and {more} more" if more else "")

    def _repr_html_(self, limit: int = 20) -> str:
        """Jupyter's view: where and how the sweep ran, the best trial, and the ``limit``
        best trials as a table (escaped HTML; its size does not grow past ``limit`` rows)."""
        best = self.best
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts().items()))
        chosen = "no trial finished" if best is None else (
            f"trial {best['trial']}: val accuracy {best['val_accuracy']:.4f} with "
            + ", ".join(f"{k}={best['config'].get(k)!r}" for k in self.varied()))
        fields = [("dataset", self.dataset), ("trials", f"{len(self.trials)} ({counts})"),
                  ("executor", f"{self.executor}, {self.workers} worker(s)"),
                  ("seconds", f"{self.seconds:.1f}"), ("best", clip_text(chosen, 1000)),
                  *(("warning", clip_text(w, 1000)) for w in self.warnings[:10])]
        header, rows, more = self._ranked(limit)
        rows = [[clip_text(c, 100) for c in r] for r in rows]
        tail = f"<p>... and {more} more</p>" if more else ""
        return html_fields("SweepResult", fields) + html_grid(header, rows) + tail


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
                                    or not 0 <= workers <= MAX_WORKERS):
            raise SweepError(f"run_sweep: workers must be an integer from 0 (in this process) "
                             f"to {MAX_WORKERS}, got {workers!r}")
        if resume and out is None:
            raise SweepError("run_sweep: resume=True needs the out folder of the sweep to resume")
        if scheduler is not None:
            try:
                check_address("run_sweep", scheduler)
            except ValueError as exc:  # before Dask is imported or anything connects
                raise SweepError(str(exc)) from None
        self.dataset, self.seed, self.scheduler = dataset, seed, scheduler
        self.workers = default_workers() if workers is None else workers
        self.trial = trial
        self.out = Path(out) if out is not None else None
        self.done: dict[int, dict[str, Any]] = {}
        self.log: TrialLog | None = None
        self._held = contextlib.ExitStack()  # the out folder's lock, let go in close()
        if self.out is not None:
            path = self.out / TRIALS_FILE
            try:
                self._held.enter_context(writer_lock(self.out))  # one writer per folder
                if resume:
                    self.done = {t["trial"]: t for t in read_trials(path, repair=True)}
                elif read_trials(path):
                    raise SweepFileError(
                        f"run_sweep: {path} already holds trials of a sweep; resume it "
                        "(resume=True, --resume) or choose another out folder (nothing was "
                        "changed)")
                self.log = TrialLog(path)
            except BaseException:
                self._held.close()
                raise
        self.executor: Any = None
        self._standardize: set[bool] = set()
        self.records: dict[int, dict[str, Any]] = {}
        self._best_val: float | None = None
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

    def _keep(self, record: dict[str, Any]) -> None:
        """Add ``record`` to the results and the best validation accuracy so far (kept as
        it goes: the progress bar shows it after every trial)."""
        self.records[record["trial"]] = record
        val = record.get("val_accuracy")
        if record["status"] == "ok" and val is not None and (
                self._best_val is None or val > self._best_val):
            self._best_val = val

    def _best_text(self) -> str:
        return "-" if self._best_val is None else f"{self._best_val:.4f}"

    def _record(self, record: dict[str, Any], extra: Mapping[str, Any]) -> None:
        record = {**record, **extra}
        with interrupts.deferred():  # Ctrl-C or SIGTERM waits for the line to be whole
            if self.log is not None:
                self.log.append(record)
            self._keep(record)
            self.bar.update(1)
            self.bar.set_postfix(best_val=self._best_text(), refresh=False)

    def run(self, configs: Sequence[Mapping[str, Any]], first: int = 0,
            extra: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run ``configs`` as trials ``first``, ``first + 1``, ...; return their records."""
        extra = dict(extra or {})
        tasks = [Task(first + i, trial_seed(self.seed, first + i), self.dataset, self.seed,
                      normalize_config(c)) for i, c in enumerate(configs)]
        for task in tasks:  # every one before any runs: what train refuses, a sweep refuses
            check_config(self.dataset, task.config, f"run_sweep: trial {task.index} "
                                                    f"({task.config})")
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
            self._keep(old)
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
        self._held.close()
