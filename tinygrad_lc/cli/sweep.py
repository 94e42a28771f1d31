"""`tinygrad-lc sweep`: choose the hyperparameters on the validation set, then test once.

Takes every option of `tinygrad-lc train` (the same definitions), each as a fixed value, a
range ``LO:HI`` (log-uniform; uniform for --momentum) or a list ``A,B,C``; runs random
search (``--trials N``) or a grid (``--grid K``), then ``--refine R`` finer rounds, in local
worker processes or on a Dask cluster (``--scheduler``); retrains the best trial (by
validation accuracy) with its seed and scores it on the test set once. Writes
``DIR/trials.jsonl``, ``DIR/sweep.json``, ``DIR/sweep.png`` and ``DIR/best/`` (the outputs
of `train` for the best configuration).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinygrad_lc.cli import train as train_command
from tinygrad_lc.cli.options import non_negative_int
from tinygrad_lc.sweep.limits import MAX_REFINE, MAX_TRIALS, MAX_WORKERS
from tinygrad_lc.sweep.log import clean_json, writer_lock
from tinygrad_lc.sweep.plot import plot_sweep
from tinygrad_lc.sweep.selection import (
    SWEEP_DEFAULTS,
    Choice,
    LogUniform,
    SweepError,
    SweepFileError,
    Uniform,
    check_search,
    default_space,
    retrain,
    search,
)
from tinygrad_lc.sweep.trial import Task, config_fields, train_config
from tinygrad_lc.util import interrupts
from tinygrad_lc.util.atomic import atomic_write

LINEAR = ("momentum",)  # ranges of these are uniform; of the others, log-uniform
NOT_FOR_SWEEPS = ("checkpoint", "save_every")  # train options that make no sense here


@dataclass(frozen=True)
class Given:
    """An option's value as typed (to print the resume command) and as a space or value."""

    text: str
    value: Any


def _spec_type(option: str, convert: Any, choices: Any, linear: bool) -> Any:
    """The argparse type of a sweep option: a fixed value, ``LO:HI`` or ``A,B,...``."""

    def one(text: str) -> Any:
        value = convert(text) if convert is not None else text
        if choices is not None and value not in choices:
            raise argparse.ArgumentTypeError(
                f"invalid choice {text!r} (choose from {', '.join(map(str, choices))})")
        return value

    def parse(text: str) -> Given:
        try:
            if ":" in text:
                lo, _, hi = text.partition(":")
                if choices is not None:
                    raise ValueError("takes names: give a list A,B instead of a range")
                space = Uniform if linear else LogUniform
                return Given(text, space(one(lo), one(hi)))
            if "," in text:
                return Given(text, Choice(tuple(one(v) for v in text.split(","))))
            return Given(text, one(text))
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{exc}") from None

    parse.__name__ = f"value or range of {option}"  # argparse names the type in errors
    return parse


def _count(low: int, high: int) -> Any:
    """The argparse type of a count from ``low`` to ``high``: a usage error names the
    option and the limit, before anything is allocated."""

    def parse(text: str) -> int:
        value = non_negative_int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, got {text!r}")
        return value

    parse.__name__ = "count"
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    # the same options as `train`, by the same definitions; then each train setting also
    # takes a range or a list (argparse keeps its actions in p._actions)
    train_command.add_arguments(p)
    sweepable = config_fields()
    for action in p._actions:
        if action.dest in sweepable and sweepable[action.dest] is tuple:
            continue  # --hidden 100,50 is one value (two layers): fixed, as train reads it
        if action.dest in sweepable:
            names = action.choices is not None
            action.type = _spec_type(action.dest, action.type, action.choices,
                                     action.dest in LINEAR)
            action.choices = None  # checked by the type, per value of a list
            action.default = None  # not given: the data set's default (train's table)
            action.metavar = "NAME|A,B" if names else "VALUE|LO:HI|A,B"
            if action.dest in ("lr", "reg"):  # train's help lists train's fixed defaults
                first = (action.help or "").split(" (")[0]
                action.help = f"{first} (default: the data set's range, below)"
        elif action.dest in NOT_FOR_SWEEPS:
            action.help, action.default = argparse.SUPPRESS, None
        elif action.dest == "seed":
            action.help = ("seeds the data split, the random configurations and (with the "
                           "trial's number) each trial's init and minibatches (default: 0)")
        elif action.dest == "out":
            action.default = "out/sweep"
            action.help = "folder for trials.jsonl, sweep.json, sweep.png and best/ " \
                          "(default: out/sweep)"
        elif action.dest == "resume":
            action.help = "skip the trials already in DIR/trials.jsonl (same settings)"
        elif action.dest == "quiet":
            action.help = "no progress bar; print only the results"
    ranges = "; ".join(
        f"{name}: --lr {s['lr']} --reg {s['reg']}" for name, s in
        [(d, v["space"]) for d, v in SWEEP_DEFAULTS.items()] +
        [(f"{d} {loss}", {**v["space"], **over}) for d, v in SWEEP_DEFAULTS.items()
         for loss, over in v.get("by_loss", {}).items()])
    p.epilog = (f"Each train setting is a value, a range LO:HI (log-uniform; uniform for "
                f"--momentum) or a list A,B,C. Ranges by default: {ranges}. Trials run in "
                "worker processes (one per core), or on a Dask cluster with --scheduler; "
                "Ctrl-C stops and keeps every finished trial for --resume.")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--trials", type=_count(1, MAX_TRIALS), metavar="N",
                     help="random search: N configurations (default: "
                          + ", ".join(f"{v['trials']} for {d}" for d, v in
                                      SWEEP_DEFAULTS.items())
                          + f"); at most {MAX_TRIALS:,} trials in all rounds together")
    how.add_argument("--grid", type=_count(1, MAX_TRIALS), metavar="K",
                     help="a grid of K values per range instead (K^ranges trials, at most "
                          f"{MAX_TRIALS:,} in all rounds)")
    p.add_argument("--refine", type=_count(0, MAX_REFINE), metavar="R",
                   help="R more rounds of random search, each in ranges half as wide (log "
                        "scale) around the best so far (default: "
                        + ", ".join(f"{v['refine']} for {d}" for d, v in
                                    SWEEP_DEFAULTS.items()) + f"; at most {MAX_REFINE})")
    p.add_argument("--workers", type=_count(0, MAX_WORKERS), metavar="K",
                   help="local worker processes (default: one per core; 0: this process; "
                        f"at most {MAX_WORKERS:,})")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the trials on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs "
                        "pip install 'tinygrad_lc[cluster]')")


class UsageError(ValueError):
    """A bad combination of command-line options."""


def space_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The search space: the data set's default ranges, then every option given."""

    def fixed(name: str) -> Any:
        given = getattr(args, name, None)
        value = given.value if isinstance(given, Given) else None
        return value if isinstance(value, str) else None

    space = default_space(args.dataset, fixed("loss"), fixed("model") or "linear")
    for name in config_fields():
        given = getattr(args, name, None)
        if isinstance(given, Given):
            space[name] = given.value
        elif given is not None:  # an option taken as train reads it (--hidden)
            space[name] = given
    return space


def resume_command(args: argparse.Namespace) -> str:
    """The command line that continues this sweep: the words typed (``cli.main`` keeps them
    in ``args._argv``) with ``--resume``, or, without them, every option given."""

    words = getattr(args, "_argv", None)
    if words is None:
        words = ["sweep", "--dataset", args.dataset]
        for name in config_fields():
            given = getattr(args, name, None)
            if isinstance(given, Given):
                words += [f"--{name.replace('_', '-')}", given.text]
        for option in ("trials", "grid", "refine", "seed", "workers", "scheduler", "out"):
            value = getattr(args, option)
            if value is not None:
                words += [f"--{option}", str(value)]
        words += ["--quiet"] if args.quiet else []
    return "tinygrad-lc " + shlex.join([w for w in words if w != "--resume"] + ["--resume"])


def run(args: argparse.Namespace) -> int:
    def fail(message: str, code: int) -> int:
        print(f"tinygrad-lc sweep: error: {message}", file=sys.stderr)
        return code

    try:
        with interrupts.stop_on_signals():
            return _run(args)
    except KeyboardInterrupt as exc:  # Ctrl-C, or interrupts.Interrupted for SIGINT/SIGTERM
        print(f"\ntinygrad-lc sweep: interrupted; every finished trial is kept in "
              f"{Path(args.out) / 'trials.jsonl'}; continue with:\n  {resume_command(args)}",
              file=sys.stderr)
        return exc.exit_code if isinstance(exc, interrupts.Interrupted) else 130
    except (UsageError, SweepError, SweepFileError) as exc:  # also a bad or foreign file
        return fail(str(exc), 2)
    except (ImportError, ConnectionError) as exc:
        return fail(str(exc), 1)
    except (OSError, RuntimeError, FloatingPointError, ValueError) as exc:
        return fail(str(exc), 1)


def _check(args: argparse.Namespace) -> None:
    for name in NOT_FOR_SWEEPS:
        if getattr(args, name) is not None:
            raise UsageError(f"--{name.replace('_', '-')} is a train option that a sweep does "
                             "not use (each trial runs start to end; trials.jsonl is the "
                             "checkpoint)")
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers is for local worker processes; with --scheduler the "
                         "cluster's workers run the trials")


def _run(args: argparse.Namespace) -> int:
    _check(args)
    space = space_from_args(args)
    defaults = SWEEP_DEFAULTS[args.dataset]
    trials = args.trials if args.trials is not None or args.grid is not None \
        else defaults["trials"]
    refine = args.refine if args.refine is not None else defaults["refine"]
    out = Path(args.out)
    say = (lambda *a: None) if args.quiet else print

    def option(name: str) -> str:
        return "--grid" if name == "grid_k" else f"--{name.replace('_', '-')}"

    say(f"sweep on {args.dataset}: " + ", ".join(f"{k} {v}" for k, v in space.items()))
    plan = f"{trials} random trials" if args.grid is None else f"a grid of {args.grid} per range"
    say(f"{plan}, then {refine} finer round(s); writing {out}/")
    trials = None if args.grid else trials
    # every setting and size checked before the folder is touched
    check_search(space, args.dataset, trials, args.grid, refine, option_name=option)
    with writer_lock(out):  # one sweep writes to out/ from start to sweep.json
        return _search_and_finish(args, space, trials, refine, out, option)


def _search_and_finish(args: argparse.Namespace, space: dict[str, Any], trials: int | None,
                       refine: int, out: Path, option: Any) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = search(space, args.dataset, trials=trials,
                        grid_k=args.grid, refine=refine, workers=args.workers,
                        scheduler=args.scheduler, out=out, resume=args.resume,
                        seed=args.seed, progress=not args.quiet, option_name=option)
    for w in caught:  # e.g. a truncated last line of trials.jsonl, dropped
        print(f"warning: {w.message}", file=sys.stderr)
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items())
    print(f"\n{len(result.trials)} trials ({counts}) in {result.seconds:.1f} s on "
          f"{result.workers} worker(s), {result.executor}:")
    print(result.table(limit=None if len(result.trials) <= 25 else 20))
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    best = result.best
    if best is None:
        raise RuntimeError(f"no trial finished ({result.counts()}); see the errors in "
                           f"{out / 'trials.jsonl'} and lower --lr")
    return _finish(args, result, best, out)


def _finish(args: argparse.Namespace, result: Any, best: dict[str, Any], out: Path) -> int:
    print(f"\nbest: trial {best['trial']}, val accuracy {best['val_accuracy']:.4f}; "
          "retraining it with its seed for the one test evaluation")
    trainer, data, acc = retrain(best)  # refuses a record whose accuracies were edited
    cfg = train_config(Task(best["trial"], best["seed"], best["dataset"], best["data_seed"],
                            best["config"]))
    best_dir = out / "best"
    best_dir.mkdir(parents=True, exist_ok=True)
    files = train_command.write_plots(trainer, data, best_dir,
                                      note=lambda m: print(m, file=sys.stderr))
    history = trainer.loss_history
    metrics = {
        "train_accuracy": acc["train"], "val_accuracy": acc["val"], "test_accuracy": acc["test"],
        "final_loss": history[-1] if history else None, "seconds": trainer.seconds,
        "steps": trainer.step, "trial": best["trial"],
        "config": {**cfg.to_dict(), **data.sizes(), "bias_trick": True,
                   "data_seed": best["data_seed"]},
        "files": ["metrics.json", *files], "loss_history": history}
    atomic_write(best_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    pictures = []
    try:
        title = (f"{args.dataset}: {len(result.trials)} trials, best val "
                 f"{acc['val']:.3f} (test {acc['test']:.3f})")
        pictures.append(plot_sweep(result.trials, out / "sweep.png", title=title).name)
    except ImportError as exc:
        print(f"note: no sweep.png: {exc}", file=sys.stderr)
    summary = {
        # the retrained numbers, as in best/metrics.json (the trial's own, but for another
        # BLAS: retrain warns then)
        "best_config": cfg.to_dict(), "best_val_accuracy": acc["val"],
        "best_train_accuracy": acc["train"], "test_accuracy": acc["test"],
        "best_trial": best["trial"], "dataset": args.dataset, "data_seed": best["data_seed"],
        "seed": args.seed, "seconds": result.seconds, "workers": result.workers,
        "executor": result.executor, "counts": result.counts(),
        "spaces": [{k: str(v) for k, v in s.items()} for s in result.spaces],
        "warnings": result.warnings, "trials": result.trials}
    atomic_write(out / "sweep.json", json.dumps(clean_json(summary), indent=2) + "\n")
    print(f"best config: lr {cfg.lr:g}, reg {cfg.reg:g} ({cfg.regularizer}), {cfg.iters} steps "
          f"of batch {cfg.batch_size}, loss {cfg.loss}, seed {cfg.seed}")
    print(f"accuracy: train {acc['train']:.4f}  val {acc['val']:.4f}  test {acc['test']:.4f}")
    print(f"wrote {', '.join(str(out / f) for f in ['trials.jsonl', 'sweep.json', *pictures])}"
          f" and {best_dir}/")
    return 0
