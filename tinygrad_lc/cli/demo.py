"""`tinygrad-lc demo` (what `make demo` runs): the lecture end to end, written up as one page.

1. the lecture's loss table (the cat / car / frog scores) recomputed with ``tinygrad_lc.losses``;
2. the SVM and softmax full-loss diagrams of the lecture's small example (``tinygrad_lc.viz``);
3. gradient checks of both losses (``tinygrad-lc gradcheck``'s checks) with their errors;
4. random search (the lecture's strategy #1) against SGD (following the gradient), both losses;
5. loss curves and the learned weights as class templates;
6. choosing lr and reg on the validation set: a small sweep on digits (``tinygrad_lc.sweep``),
   the best trial retrained and tested once;
7. ``DIR/report.html``: everything above on one self-contained page (pictures inlined).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_lc import __version__
from tinygrad_lc.cli.gradcheck import check_loss
from tinygrad_lc.cli.lecture import LECTURE_LABELS, LECTURE_NAMES, LECTURE_SCORES, lecture_loss
from tinygrad_lc.cli.options import non_negative_int
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.reports import RELATIVE_ERROR
from tinygrad_lc.losses import LOSSES, softmax_loss, svm_loss
from tinygrad_lc.models.linear import LinearClassifier, random_search
from tinygrad_lc.models.training import TrainConfig, Trainer, load_dataset
from tinygrad_lc.sweep.plot import plot_sweep
from tinygrad_lc.sweep.selection import default_space, retrain, search
from tinygrad_lc.util.atomic import atomic_write
from tinygrad_lc.util.table import text_table
from tinygrad_lc.viz import diagram, plots
from tinygrad_lc.viz.report import Report

SEARCH_EXAMPLES = 2000  # random search scores each try on at most this many training examples
SWEEP_TRIALS, SWEEP_REFINE = 12, 1  # the demo's sweep: digits, about 5 s on 2 cores


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=("digits", "cifar10"), default="digits",
                   help="digits (default; ship inside the package, runs in seconds) or cifar10 "
                        "(read or downloaded as for `tinygrad-lc train`)")
    p.add_argument("--out", default="out", metavar="DIR",
                   help="folder for report.html and the pictures (default: out)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the split, init and batches")
    p.add_argument("--search-tries", type=int, default=1000, metavar="N",
                   help="random weight matrices tried by random search (default: 1000)")
    p.add_argument("--iters", type=int, metavar="N",
                   help="SGD steps (default: the data set's, as for `tinygrad-lc train`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


# ---------------------------------------------------------------------- 1. the loss table
def lecture_table() -> tuple[list[str], list[list[Any]]]:
    """The lecture's worked example: per-image SVM and softmax losses, their means, and the
    two sanity checks (all scores 0).

    >>> header, rows = lecture_table()
    >>> [(r[0], r[3]) for r in rows[:4]]
    [('cat', '2.90'), ('car', '0.00'), ('frog', '12.90'), ('mean', '5.27')]
    """

    s, y = LECTURE_SCORES, LECTURE_LABELS
    svm = svm_loss(s, y, reduction="none").data
    soft = softmax_loss(s, y, reduction="none").data
    probs = Tensor(s).softmax(axis=1).data[np.arange(3), y]
    header = ["image", "scores (cat, car, frog)", "correct class", "SVM loss",
              "softmax loss (ln)", "p(correct)"]
    rows = [[name, ", ".join(f"{v:g}" for v in s[i]), LECTURE_NAMES[y[i]], f"{svm[i]:.2f}",
             f"{soft[i]:.2f}", f"{probs[i]:.3f}"] for i, name in enumerate(LECTURE_NAMES)]
    rows.append(["mean", "", "", f"{svm_loss(s, y).item():.2f}",
                 f"{softmax_loss(s, y).item():.2f}", ""])
    zeros, labels = np.zeros((5, 10)), np.arange(5)
    rows.append(["any, C = 10", "all 0", "", f"{svm_loss(zeros, labels).item():.2f}",
                 f"{softmax_loss(zeros, labels).item():.4f}", "0.100"])
    return header, rows


# ---------------------------------------------------------------------- 2. the diagrams
def render_diagrams(out: Path) -> tuple[dict[str, Path], str | None]:
    """Render the lecture's full SVM and softmax losses (values and gradients shown).

    Returns the SVG paths by loss and, when Graphviz's ``dot`` is missing, the reason.
    """
    paths = {}
    for loss in LOSSES:
        root = lecture_loss(loss)
        root.backward()
        try:
            # top to bottom: narrow enough to read on a page without scrolling sideways
            kw = {"show": ("shape", "data", "grad"), "rankdir": "TB"}
            paths[loss] = diagram.render(root, out / f"graph_{loss}.svg", **kw)
            diagram.render(root, out / f"graph_{loss}.png", **kw)
        except diagram.GraphvizNotFoundError as exc:
            return paths, str(exc)
    return paths, None


# ---------------------------------------------------------------------- 4. search vs SGD
def _search(data: Any, loss: str, tries: int, seed: int) -> dict[str, Any]:
    start = time.perf_counter()
    n = min(len(data.y_train), SEARCH_EXAMPLES)
    W, best = random_search(data.X_train[:n], data.y_train[:n], loss=loss, num_tries=tries,
                            seed=seed, num_classes=data.num_classes)
    seconds = time.perf_counter() - start  # the search only, as SGD's time is training only
    model = LinearClassifier(data.num_features, data.num_classes, loss=loss, bias=False)
    model.W.data = W  # X holds the bias column, so W is the whole model
    acc = data.accuracies(model)
    return {"method": "random search", "loss": loss, "final_loss": best,
            "train_accuracy": acc["train"], "val_accuracy": acc["val"],
            "test_accuracy": acc["test"], "seconds": seconds, "W": W}


def same_search_note(tries: int, num_classes: int) -> str:
    """Why random search's rows for the SVM and the softmax loss are alike, in one sentence.

    >>> same_search_note(1000, 10)[:58]
    'The two random-search rows pick the same W, and no bug mak'
    """
    C = num_classes
    return (f"The two random-search rows pick the same W, and no bug makes them alike: both "
            f"try the same {tries:,} random W (one seed), and at W of scale 1e-4 every score "
            f"is near 0, where to first order the SVM loss is {C - 1} + {C} x (softmax loss "
            f"- ln {C}), a rising function of the softmax loss, so the lowest of one is the "
            f"lowest of the other.")


def _sgd(data: Any, loss: str, seed: int, iters: int | None, progress: bool
         ) -> tuple[dict[str, Any], Any]:

    cfg = TrainConfig.for_dataset(data.name, loss=loss, seed=seed, iters=iters)
    trainer = Trainer(cfg, data.num_features, data.num_classes)
    trainer.train(data.X_train, data.y_train, progress=progress)
    model = trainer.model
    assert isinstance(model, LinearClassifier)  # the demo trains the linear classifier
    acc = data.accuracies(model)
    result = {"method": "SGD", "loss": loss, "final_loss": trainer.loss_history[-1],
              "train_accuracy": acc["train"], "val_accuracy": acc["val"],
              "test_accuracy": acc["test"], "seconds": trainer.seconds,
              "W": model.W.data,
              "settings": f"lr {cfg.lr:g}, reg {cfg.reg:g} ({cfg.regularizer}), "
                          f"{cfg.iters} steps of batch {cfg.batch_size}"}
    return result, trainer


# ---------------------------------------------------------------------- 6. the sweep
def sweep_section(report: Any, out: Path, seed: int, progress: bool) -> dict[str, Any] | None:
    """A small sweep on digits: lr and reg on the validation set, the best tested once.

    Writes ``out/sweep/`` (trials.jsonl, sweep.png) and adds a report section; returns the
    summary for demo.json (without matplotlib, the same without the picture).
    """

    folder = out / "sweep"
    (folder / "trials.jsonl").unlink(missing_ok=True)  # the demo's own, from an earlier run
    space = {**default_space("digits")}
    result = search(space, "digits", trials=SWEEP_TRIALS, refine=SWEEP_REFINE, out=folder,
                    seed=seed, progress=progress)
    best = result.best
    if best is None:
        raise RuntimeError(f"the demo's sweep had no successful trial: {result.table(limit=3)}")
    _, _, acc = retrain(best)
    try:
        picture: Path | None = plot_sweep(result.trials, folder / "sweep.png",
                                          title=f"digits: {len(result.trials)} trials, best "
                                                f"val {best['val_accuracy']:.3f}")
    except ImportError as exc:  # matplotlib (the demo extra) is missing: no picture
        print(f"  note: {exc}")
        picture = None
    table = result.table(limit=8)
    print(table)
    cfg = best["config"]
    print(f"  best: trial {best['trial']}, lr {cfg['lr']:.3g}, reg {cfg['reg']:.3g}: val "
          f"{best['val_accuracy']:.3f}, then test {acc['test']:.3f} (once); "
          f"{result.seconds:.1f} s on {result.workers} {result.executor}")
    report.section(
        "Choosing lr and reg on the validation set",
        f"The lecture's recipe: train one model per setting on the training set, compare "
        f"them on the validation set, and only then look at the test set, once. "
        f"{SWEEP_TRIALS} random (log-uniform) settings of lr in {space['lr']} and reg in "
        f"{space['reg']}, then {SWEEP_TRIALS} more in ranges half as wide around the best "
        f"(coarse to fine), {len(result.trials)} SVM trials of 300 steps in "
        f"{result.seconds:.1f} s on {result.workers} worker processes. "
        "`tinygrad-lc sweep` does the same on any data set, also on a Dask cluster.")
    ranked = sorted((t for t in result.trials if t["status"] == "ok"),
                    key=lambda t: (-t["val_accuracy"], t["trial"]))[:8]
    report.table(["trial", "lr", "reg", "train acc", "val acc", "seconds"],
                 [[t["trial"], f"{t['config']['lr']:.3g}", f"{t['config']['reg']:.3g}",
                   f"{t['train_accuracy']:.3f}", f"{t['val_accuracy']:.3f}",
                   f"{t['seconds']:.2f}"] for t in ranked],
                 caption="the best 8 trials by validation accuracy")
    report.paragraph(
        f"Best: trial {best['trial']} (lr {cfg['lr']:.3g}, reg {cfg['reg']:.3g}), validation "
        f"accuracy {best['val_accuracy']:.3f}; retrained with its seed, its test accuracy is "
        f"{acc['test']:.3f}. Chosen by validation accuracy only.")
    for message in result.warnings:
        report.paragraph(f"Warning: {message}", note=True)
    if picture is not None:
        report.image(picture, "sweep: learning rate against regularization",
                     caption="each point a trial, coloured by training (left) and validation "
                             "(right) accuracy; the best is ringed in red")
    return {"trials": len(result.trials), "seconds": result.seconds,
            "workers": result.workers, "best_config": cfg,
            "best_val_accuracy": best["val_accuracy"], "test_accuracy": acc["test"]}


def run(args: argparse.Namespace) -> int:
    for name, value in (("--search-tries", args.search_tries), ("--iters", args.iters)):
        if value is not None and value < 1:
            print(f"tinygrad-lc demo: error: {name} must be >= 1, got {value}", file=sys.stderr)
            return 2
    try:
        return _run(args)
    except (OSError, RuntimeError, ImportError, ValueError) as exc:
        print(f"tinygrad-lc demo: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(f"tinygrad_lc demo: loss functions, SVM and softmax on {args.dataset}")
    report.paragraph(
        "A linear classifier s = x W scores each class; a loss says how unhappy we are with "
        "the scores; its gradient, computed by reverse-mode autodiff through the graph of "
        "Tensor ops, tells SGD how to change W. Every number and picture on this page was "
        f"made by `tinygrad-lc demo --dataset {args.dataset}` (tinygrad_lc {__version__}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}).")

    print("1. The lecture's losses on the cat / car / frog scores")
    header, rows = lecture_table()
    print(text_table(header, rows, indent="  "))
    report.section("The lecture's losses", "Scores of three images for the classes cat, "
                   "car and frog (one row per image), their multiclass SVM losses (delta = 1) "
                   "and softmax cross-entropy losses. The last row is the sanity check: with all "
                   "scores 0 the SVM loss is C - 1 and the softmax loss ln C.")
    report.table(header, rows)
    report.paragraph("The slide's 0.89 for the cat is the base-10 logarithm, `-log10(0.13)`; "
                     "tinygrad_lc uses the natural logarithm, `-ln(0.13)` = 2.04.", note=True)

    print("\n2. Diagrams of the full loss, loss(X @ W + b, y) + 0.1 * l2(W)")
    diagrams, missing = render_diagrams(out)
    report.section("The full loss as a computation graph",
                   "The lecture's small example (3 images of 4 pixels, 3 classes): data loss "
                   "plus `0.1 * sum(W**2)`, after `backward()`. Each box shows a tensor's shape, "
                   "values and gradient (brown); ellipses are ops; the losses' and the "
                   "regularizer's own scopes are the shaded clusters.")
    for loss, path in diagrams.items():
        print(f"  {path} (and .png)")
        report.image(path, f"{loss} loss graph", caption=f"{loss}: {path.name}")
    if missing:
        print(f"  note: {missing}")
        report.paragraph(f"Diagrams not drawn: {missing}", note=True)

    print("\n3. Gradient checks (analytic backward against central differences, float64)")
    checks = [r for loss in LOSSES for r in check_loss(loss, seed=args.seed)]
    check_rows = [[r.loss, r.what, f"{r.rel_error:.2e}" + (f" ({r.scope})" if r.scope else ""),
                   r.kinks, "passed" if r.passed else "FAILED"] for r in checks]
    check_header = ["loss", "check", "max relative error", "kinks met", "verdict"]
    print(text_table(check_header, check_rows, indent="  "))
    report.section("Gradient checks", "Each gradient computed by `backward()` against "
                   "centered differences `(f(x + h) - f(x - h)) / 2h`; the relative error of an "
                   f"entry is `{RELATIVE_ERROR}` (analytic a, numerical n), and 'max relative "
                   "error' is the largest of them (for a gradcheck, the one on its worst line "
                   "below; among the failing entries if any fail). "
                   "Around 1e-7 or below means the backward pass is right; steps that cross a "
                   "hinge are reported as kinks, not errors, and left out of the maximum.")
    report.table(check_header, check_rows)
    report.code("\n\n".join(f"[{r.loss}] {r.what}\n{r.text}" for r in checks))

    print(f"\n4. Random search (strategy #1) against SGD on {args.dataset}")
    data = load_dataset(args.dataset, seed=args.seed)
    results, trainers = [], {}
    for loss in LOSSES:
        results.append(_search(data, loss, args.search_tries, args.seed))
        sgd, trainers[loss] = _sgd(data, loss, args.seed, args.iters, progress=not args.quiet)
        results.append(sgd)
    acc_header = ["method", "loss", "train acc", "val acc", "test acc", "final loss",
                  "seconds"]
    acc_rows = [[r["method"], r["loss"], f"{r['train_accuracy']:.3f}", f"{r['val_accuracy']:.3f}",
                 f"{r['test_accuracy']:.3f}", f"{r['final_loss']:.3f}", f"{r['seconds']:.2f}"]
                for r in results]
    print(text_table(acc_header, acc_rows, indent="  "))
    sizes = data.sizes()
    report.section(f"Random search against SGD on {args.dataset}",
                   f"{sizes['num_train']} training, {sizes['num_val']} validation and "
                   f"{sizes['num_test']} test examples, mean-subtracted, with a column of ones "
                   f"for the bias. Random search keeps the best of {args.search_tries} random "
                   "W (scale 1e-4) by its data loss on up to "
                   f"{SEARCH_EXAMPLES} training examples; SGD follows the gradient "
                   f"({results[1]['settings']}). 'final loss' is random search's best loss, "
                   "and SGD's last minibatch loss (data + regularization).")
    report.table(acc_header, acc_rows)
    report.paragraph(same_search_note(args.search_tries, data.num_classes), note=True)

    print("\n5. Loss curves and weight templates")
    pictures = []
    assert data.image_shape is not None  # digits and cifar10 are images
    try:
        pictures.append(plots.plot_loss_curves(
            {loss: trainers[loss].loss_history for loss in LOSSES}, out / "loss.png",
            title=f"SGD on {args.dataset}"))
        for loss in LOSSES:
            pictures.append(plots.plot_weight_templates(
                results[2 * LOSSES.index(loss) + 1]["W"], data.image_shape, data.class_names,
                out / f"weights_{loss}.png", title=f"{loss}: learned weights as templates"))
        pictures.append(plots.plot_weight_templates(
            results[0]["W"], data.image_shape, data.class_names, out / "weights_random.png",
            title="random search (svm): the best random weights"))
    except ImportError as exc:
        print(f"  note: {exc}")
    for p in pictures:
        print(f"  {p}")
    report.section("Loss curves and learned templates",
                   "The minibatch loss of every SGD step (faint) and its moving average; then "
                   "each class's column of W without the bias row, reshaped to an image and "
                   "rescaled to 0..255: the 'template' the class's score matches. Random "
                   "search's weights, for contrast, are noise.")
    for p in pictures:
        report.image(p, p.stem.replace("_", " "))

    print("\n6. Choosing lr and reg on the validation set (a sweep on digits)")
    sweep = sweep_section(report, out, args.seed, progress=not args.quiet)

    seconds = time.perf_counter() - start
    summary = {"dataset": args.dataset, "seed": args.seed, "search_tries": args.search_tries,
               "sweep": sweep,
               "seconds": seconds, "lecture_table": {"header": header, "rows": rows},
               "gradchecks": [{"loss": r.loss, "check": r.what, "rel_error": r.rel_error,
                               "passed": r.passed} for r in checks],
               "results": [{k: v for k, v in r.items() if k != "W"} for r in results]}
    atomic_write(out / "demo.json", json.dumps(summary, indent=2) + "\n")
    report.section("Reproduce", "Run these from the project folder:")
    report.code(f"tinygrad-lc demo --dataset {args.dataset} --seed {args.seed}\n"
                f"tinygrad-lc train --dataset {args.dataset} --loss softmax\n"
                "tinygrad-lc sweep --dataset digits --out out/sweep\n"
                "tinygrad-lc gradcheck\n"
                "tinygrad-lc graph --loss svm --show shape,data,grad -o out/graph.svg")
    report.paragraph(f"Made in {seconds:.1f} s; numbers also in demo.json.", note=True)
    path = report.write(out / "report.html")
    ok = all(r.passed for r in checks) and not any(
        math.isnan(r["test_accuracy"]) for r in results)
    print(f"\nreport: {path.resolve()}  ({seconds:.1f} s)")
    return 0 if ok else 1
