"""`tinygrad-lc train`: train a linear classifier (or, with ``--model mlp``, the two-layer
net) by minibatches from the command line.

Writes ``DIR/metrics.json`` (accuracies, final loss, time, the loss of every step and the full
configuration), ``DIR/loss.png`` (the loss curve) and ``DIR/weights.png``: the learned weights
as one small image per class for digits and CIFAR-10, and for the 2-D blobs the decision
regions with each class's weight vector drawn as an arrow. For the MLP, ``weights.png``
shows the first layer's weights, one image per hidden unit (none for blobs).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from tinygrad_lc.cli.options import add_regularizer_options, non_negative_int
from tinygrad_lc.losses import LOSSES
from tinygrad_lc.models.mlp import OPTIMIZERS
from tinygrad_lc.models.training import (
    DATASETS,
    DEFAULTS,
    LOSS_DEFAULTS,
    MAX_HIDDEN_LAYERS,
    MAX_HIDDEN_WIDTH,
    MAX_ITERS,
    MAX_PARAMETERS,
    MLP_DEFAULTS,
    MODELS,
    ConfigError,
    TrainConfig,
    Trainer,
    load_dataset,
    runaway_warning,
)
from tinygrad_lc.util import interrupts
from tinygrad_lc.util.atomic import atomic_write
from tinygrad_lc.util.checkpoint import CheckpointError
from tinygrad_lc.viz import plots


# -------------------- The options of `tinygrad-lc train` for the two-layer net (``--model mlp``) an
def hidden_sizes(text: str) -> tuple[int, ...]:
    """Comma-separated hidden widths, each an integer >= 1.

    >>> hidden_sizes("100,50")
    (100, 50)
    >>> hidden_sizes("100,0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be comma-separated integers >= 1 such as 100 or 100,50, \
got '100,0'
    """
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = (0,)
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers >= 1 such as 100 or 100,50, got {text!r}")
    return sizes


def _mlp_defaults(key: str) -> str:
    def show(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}"
    return ", ".join(f"{show(d[key])} for {name}" for name, d in MLP_DEFAULTS.items())


def add_mlp_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hidden", type=hidden_sizes, metavar="H[,H2...]",
                   help=f"mlp: hidden layer widths ({_mlp_defaults('hidden')}; at most "
                        f"{MAX_HIDDEN_LAYERS} layers of at most {MAX_HIDDEN_WIDTH:,} units, "
                        f"{MAX_PARAMETERS:,} parameters in all)")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="sgd, momentum (SGD with --momentum, default 0.9) or adam (mlp only) "
                        "(default: sgd; mlp: adam)")
    p.add_argument("--lr-decay", type=float, metavar="F",
                   help="multiply the learning rate by F after every epoch "
                        f"(default: 1; mlp: {_mlp_defaults('lr_decay')})")
    p.epilog = (p.epilog or "") + (
        " With --model mlp each pixel is also divided by its standard deviation; the MLP's "
        f"defaults are lr {_mlp_defaults('lr')}, reg {_mlp_defaults('reg')} (on the weight "
        "matrices, "
        f"not the biases), iters {_mlp_defaults('iters')}, batch {_mlp_defaults('batch_size')}.")


def plot_mlp_weights(model: Any, data: Any, path: Path) -> list[Path]:
    """The first layer's weights, one image per hidden unit; nothing for data without images."""

    if data.image_shape is None:
        return []
    W = model.net[0].W.data
    return [plots.plot_weight_grid(
        W, data.image_shape, path, bias_row=True,
        title=f"First layer (W1) of the net {'-'.join(map(str, model.net.sizes))} on "
              f"{data.name}: {W.shape[1]} hidden units")]


def _defaults(key: str) -> str:
    return ", ".join([f"{DEFAULTS[d][key]:g} for {d}" for d in DATASETS] + [
        f"{v[key]:g} for {d} {loss}" for (d, loss), v in LOSS_DEFAULTS.items() if key in v])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = ("Data: a seeded train/validation/test split, training-mean subtraction and a "
                "column of ones (the bias trick), so W has one more row than there are pixels "
                "and no separate bias is learned. CIFAR-10 is read from $TINYGRAD_LC_DATA (the "
                "folder or its cifar-10-batches-py/) or the user cache folder "
                "(~/.cache/tinygrad_lc on Linux) and downloaded there (163 MB, needs "
                "pip install 'tinygrad_lc[cifar10]') when missing.")
    p.add_argument("--dataset", choices=DATASETS, default="digits",
                   help="digits (8x8, ship inside the package), cifar10 (32x32x3) or blobs "
                        "(2-D toy points); default: digits")
    p.add_argument("--model", choices=MODELS, default="linear",
                   help="linear (scores X @ W) or mlp (the two-layer net; its defaults differ, "
                        "see below) (default: linear)")
    p.add_argument("--loss", choices=LOSSES, help="data loss (default: svm; mlp: softmax)")
    add_regularizer_options(p, None, _defaults("reg"))
    p.add_argument("--lr", type=float, help=f"learning rate ({_defaults('lr')})")
    p.add_argument("--iters", type=int, help=f"total SGD steps ({_defaults('iters')}; at most "
                                             f"{MAX_ITERS:,})")
    p.add_argument("--batch-size", type=int,
                   help=f"minibatch size ({_defaults('batch_size')})")
    p.add_argument("--momentum", type=float,
                   help="SGD momentum (default: 0; 0.9 with --optimizer momentum)")
    p.add_argument("--weight-scale", type=float,
                   help="std of the initial weights (default: 1e-4; mlp: He, sqrt(2 / fan_in))")
    add_mlp_arguments(p)
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the split, the initial weights and the minibatches (default: 0)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="save the run (W, optimizer, step, random state, config) to this .npz")
    p.add_argument("--save-every", type=int, default=100, metavar="K",
                   help="with --checkpoint: save every K steps and at the end (default: 100)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in --checkpoint up to --iters steps in total; "
                        "the result is bit-identical to an uninterrupted run")
    p.add_argument("--out", metavar="DIR",
                   help="folder for metrics.json, loss.png and weights.png (default: "
                        "out/train/DATASET-LOSS, out/train/DATASET-mlp-LOSS with --model mlp; "
                        "so a run never overwrites the demo's pictures in out/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes")


class UsageError(ValueError):
    """A bad combination of command-line options."""


def default_out(cfg: TrainConfig) -> Path:
    """Where a run writes without ``--out``: one folder per data set, model and loss.

    >>> str(default_out(TrainConfig.for_dataset("digits", loss="softmax")))
    'out/train/digits-softmax'
    >>> str(default_out(TrainConfig.for_dataset("blobs", model="mlp")))
    'out/train/blobs-mlp-softmax'
    """
    model = "" if cfg.model == "linear" else f"{cfg.model}-"
    return Path("out") / "train" / f"{cfg.dataset}-{model}{cfg.loss}"


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run's settings: the data set's defaults, overridden by the options given."""
    cfg = TrainConfig.for_dataset(
        args.dataset, loss=args.loss, regularizer=args.regularizer, reg=args.reg, lr=args.lr,
        iters=args.iters, batch_size=args.batch_size, momentum=args.momentum, seed=args.seed,
        weight_scale=args.weight_scale, beta=args.beta, model=args.model, hidden=args.hidden,
        optimizer=args.optimizer, lr_decay=args.lr_decay)
    try:  # the settings' own check, the one `sweep` makes too
        cfg.check()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.save_every < 1:
        raise UsageError(f"--save-every must be >= 1, got {args.save_every}")
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH to resume from")
    return cfg


def write_plots(trainer: Any, data: Any, out: Path, note: Any = print) -> list[str]:
    """Write loss.png and weights.png into ``out``; skip them (with a note) without matplotlib."""

    cfg = trainer.config
    try:
        written = [plots.plot_loss_curves(
            {f"{cfg.loss} + {cfg.reg:g} * {cfg.regularizer}": trainer.loss_history},
            out / "loss.png", title=f"Training loss on {cfg.dataset}")]
        W = None if cfg.model == "mlp" else trainer.model.W.data
        if W is None:
            written += plot_mlp_weights(trainer.model, data, out / "weights.png")
        elif data.image_shape is None:
            written.append(plots.plot_decision_regions(
                W, data.X_train, data.y_train, data.class_names, out / "weights.png",
                title=f"{cfg.dataset}: decision regions and weight vectors ({cfg.loss})"))
        else:
            written.append(plots.plot_weight_templates(
                W, data.image_shape, data.class_names, out / "weights.png",
                title=f"Learned weights of the {cfg.loss} classifier on {cfg.dataset}"))
    except ImportError as exc:
        note(f"note: no pictures written: {exc}")
        return []
    return [p.name for p in written]


def check_paths(args: argparse.Namespace) -> None:
    """Refuse an --out or --checkpoint that cannot be written, before any data is loaded."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; --out names the folder for metrics.json "
                         "and the pictures")
    _check_folder("--out", out)
    if args.checkpoint:
        checkpoint = Path(args.checkpoint)
        if checkpoint.is_dir():
            raise UsageError(f"--checkpoint {checkpoint} is a folder; give a file path such as "
                             f"{checkpoint / 'run.npz'}")
        _check_folder("--checkpoint", checkpoint.parent)


def _check_folder(option: str, folder: Path) -> None:
    """``folder`` exists or can be made: its nearest existing ancestor is a writable folder."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise UsageError(f"{option}: {path} is a file, so the folder {folder} cannot "
                                 "be created")
            if not os.access(path, os.W_OK | os.X_OK):
                raise UsageError(f"{option}: the folder {path} is not writable")
            return


class _Progress:
    """What an interrupted run reports: how far it got and what its checkpoint holds."""

    trainer: Any = None
    total: int = 0


def run(args: argparse.Namespace) -> int:
    progress = _Progress()
    try:
        with interrupts.stop_on_signals():
            return _run(args, progress)
    except UsageError as exc:
        print(f"tinygrad-lc train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or interrupts.Interrupted for SIGINT/SIGTERM
        print(f"tinygrad-lc train: {interrupted_message(args, progress)}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, interrupts.Interrupted) else 130
    # what a user can act on: damaged checkpoints, diverged training (FloatingPointError),
    # missing or broken data (OSError, RuntimeError, ImportError; _run turns the data's
    # ValueError into a RuntimeError)
    except (CheckpointError, FloatingPointError, OSError, RuntimeError, ImportError) as exc:
        print(f"tinygrad-lc train: error: {exc}", file=sys.stderr)
        return 1


def interrupted_message(args: argparse.Namespace, progress: _Progress) -> str:
    """One line: the step reached, the step the checkpoint holds, and how to go on."""
    trainer = progress.trainer
    if trainer is None:
        return "interrupted before training started; no file was changed"
    head = f"interrupted at step {trainer.step} of {progress.total}"
    if not args.checkpoint:
        return (f"{head}; nothing was saved (with --checkpoint PATH a run can be stopped and "
                "resumed)")
    if trainer.saved_step is None:
        return (f"{head}; {args.checkpoint} holds no step of this run yet (the first save "
                f"comes at step {min(args.save_every, progress.total)}); start again with: "
                f"{command_line(args, resume=False)}")
    return (f"{head}; {args.checkpoint} holds step {trainer.saved_step}; resume with: "
            f"{command_line(args, resume=True)}")


def command_line(args: argparse.Namespace, resume: bool) -> str:
    """The command that ran (``cli.main`` keeps its words in ``args._argv``), with or
    without ``--resume``, quoted for a POSIX shell."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = ("python -m tinygrad_lc" if getattr(main_spec, "name", "") == "tinygrad_lc.__main__"
               else "tinygrad-lc")
    words = getattr(args, "_argv", None)
    if words is None:  # run() called without cli.main: spell out every setting
        cfg = config_from_args(args)
        words = ["train"]
        for name, value in cfg.to_dict().items():
            if name == "dtype" or value in (None, ()):  # no option; or the model's default
                continue
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            words += [f"--{name.replace('_', '-')}", text]
        words += ["--checkpoint", str(args.checkpoint), "--save-every", str(args.save_every),
                  *(["--out", str(args.out)] if args.out else [])] + (
                      ["--quiet"] if args.quiet else [])
    words = [w for w in words if w != "--resume"] + (["--resume"] if resume else [])
    return f"{program} {shlex.join(words)}"


def _run(args: argparse.Namespace, progress: _Progress) -> int:
    cfg = config_from_args(args)
    if args.out is None:
        args.out = str(default_out(cfg))
    check_paths(args)
    note = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    if args.resume and (checkpoint is None or not checkpoint.exists()):
        raise UsageError(f"--resume: the checkpoint {checkpoint} does not exist; "
                         "run without --resume to start a new run")
    if not args.resume and checkpoint is not None and checkpoint.exists():
        raise UsageError(f"--checkpoint {checkpoint} already exists and holds another run; "
                         "add --resume to continue it, or give another --checkpoint path to "
                         "start a new run (nothing was changed)")
    try:
        data = load_dataset(cfg.dataset, seed=cfg.seed, standardize=cfg.model == "mlp")
    except ValueError as exc:  # e.g. a corrupt CIFAR-10 archive; the message says what to do
        raise RuntimeError(str(exc)) from exc
    try:  # the data at hand may be smaller than the data set's usual size
        cfg.check(num_train=len(data.y_train))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        trainer = Trainer(cfg, data.num_features, data.num_classes)
    except (ValueError, TypeError) as exc:  # a setting config_from_args does not know about
        raise UsageError(str(exc)) from exc
    resumed_from = 0
    if args.resume and checkpoint is not None:
        trainer.load(checkpoint)
        resumed_from = trainer.step
        if resumed_from > cfg.iters:
            raise UsageError(f"{checkpoint} is at step {resumed_from}, past --iters "
                             f"{cfg.iters}; ask for at least {resumed_from} steps")
        note(f"resuming {checkpoint} at step {resumed_from} of {cfg.iters}")
    progress.trainer, progress.total = trainer, cfg.iters
    if not args.quiet:
        sizes = data.sizes()
        print(f"{cfg.dataset}: {sizes['num_train']} train, {sizes['num_val']} val, "
              f"{sizes['num_test']} test examples of {data.num_features} features "
              f"(with the bias column), {data.num_classes} classes")
        print(f"{cfg.loss} loss + {cfg.reg:g} * {cfg.regularizer}(W), lr {cfg.lr:g}, "
              f"{cfg.iters} steps of batch {cfg.batch_size}, "
              f"{'adam' if cfg.optimizer == 'adam' else f'momentum {cfg.momentum:g}'}, "
              f"seed {cfg.seed}")
        if cfg.model == "mlp":
            print(f"mlp: hidden {','.join(map(str, cfg.hidden))}, {cfg.optimizer}, lr x "
                  f"{cfg.lr_decay:g} per epoch, reg on the weight matrices (not the biases), "
                  f"{cfg.dtype}, standardized pixels")
    trainer.train(data.X_train, data.y_train, checkpoint=checkpoint,
                  save_every=args.save_every, progress=not args.quiet,
                  val=(data.X_val, data.y_val))

    results = data.accuracies(trainer.model)
    history = trainer.loss_history
    warning = runaway_warning(history, cfg.lr)
    out = Path(args.out)
    with interrupts.deferred():  # the outputs are written whole, also on Ctrl-C
        out.mkdir(parents=True, exist_ok=True)
        files = write_plots(trainer, data, out, note)
        _write_metrics(args, cfg, data, trainer, results, resumed_from, files, warning)
    print(f"accuracy: train {results['train']:.4f}  val {results['val']:.4f}  "
          f"test {results['test']:.4f}")
    if history:
        print(f"final loss {history[-1]:.4f} after {trainer.step} steps "
              f"({trainer.seconds:.2f} s of training)")
    if warning:  # the run finished, but its numbers are not a trained classifier's
        print(warning, file=sys.stderr)
    print(f"wrote {', '.join(str(out / f) for f in ['metrics.json', *files])}")
    return 0


def _write_metrics(args: argparse.Namespace, cfg: TrainConfig, data: Any, trainer: Any,
                   results: dict, resumed_from: int, files: list[str],
                   warning: str | None = None) -> None:
    history = trainer.loss_history
    out = Path(args.out)
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    metrics = {
        "train_accuracy": results["train"],
        "val_accuracy": results["val"],
        "test_accuracy": results["test"],
        "final_loss": history[-1] if history else None,
        "seconds": trainer.seconds,
        "steps": trainer.step,
        "resumed_from_step": resumed_from,
        "warnings": [warning] if warning else [],
        "config": {**cfg.to_dict(), **data.sizes(), "bias_trick": True,
                   "checkpoint": str(checkpoint) if checkpoint else None,
                   "save_every": args.save_every, "resume": args.resume, "out": str(out),
                   "quiet": args.quiet},
        "files": ["metrics.json", *files],
        "loss_history": history,
        **({"history": trainer.model.history} if cfg.model == "mlp" else {}),
    }
    atomic_write(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
