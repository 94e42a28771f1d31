"""`tinygrad-lc graph`: the lecture's full loss ``loss(X @ W + b, y) + reg * R(W)`` as a diagram.

The example is the lecture's smallest: N = 3 images of D = 4 pixels (cat, dog, ship), C = 3
classes, the weights W (4, 3) and bias b (3,) of the lecture's 4-pixel cat picture.

``--model mlp`` draws the two-layer net's loss instead (``graph_mlp.mlp_loss``).

``python -m tinygrad_lc.cli.graph --refresh-docs`` re-runs the code blocks of
``docs/diagrams.md`` from the repository root, which redraws the images under ``docs/img/``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from tinygrad_lc.cli.doc_blocks import python_blocks
from tinygrad_lc.cli.lecture import LECTURE_X, LECTURE_Y, lecture_loss
from tinygrad_lc.cli.options import ELASTIC_BETA, Parser, add_regularizer_options
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.losses import LOSSES, data_loss
from tinygrad_lc.models.training import TrainConfig
from tinygrad_lc.nn import MLP, Linear
from tinygrad_lc.regularizers import penalty
from tinygrad_lc.viz import diagram as viz

# -------------------- `tinygrad-lc graph --model mlp`: the two-layer net's full loss as a diagram.
HIDDEN = 5


def mlp_loss(loss: str = "svm", regularizer: str = "l2", reg: float = 0.1,
             beta: float = ELASTIC_BETA, seed: int = 0) -> Tensor:
    """``loss(net(X), y) + reg * R(W1, W2)`` for the two-layer net on the lecture's
    3 images of 4 pixels (divided by 255); the names are ``tinygrad-lc train``'s options.

    Examples
    --------
    >>> from tinygrad_lc.viz import draw_graph
    >>> source = draw_graph(mlp_loss("softmax")).source
    >>> [f"<B>{name}</B>" in source for name in ("MLP", "Linear1", "ReLU1", "Linear2")]
    [True, True, True, True]
    """
    X = Tensor(np.array(LECTURE_X) / 255.0, name="X")
    net = MLP([X.shape[1], HIDDEN, len(LECTURE_Y)], seed=seed)
    weights = [m.W for m in net if isinstance(m, Linear)]
    return data_loss(loss, net(X), np.array(LECTURE_Y)) + reg * penalty(
        regularizer, weights, beta=beta)


__all__ = ["lecture_loss", "mlp_loss", "refresh_docs"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Render the lecture's full loss, loss(X @ W + b, y) + reg * R(W), on its small example "
        "(3 images of 4 pixels, 3 classes) as a Graphviz diagram, and print the file written."
    )
    p.add_argument("--model", choices=("linear", "mlp"), default="linear",
                   help="linear (X @ W + b) or mlp (the two-layer net, one cluster per layer) "
                        "(default: linear)")
    p.add_argument("--loss", choices=LOSSES,
                   help="data loss (default: svm; with --model mlp, softmax, as in train)")
    add_regularizer_options(p, 0.1, "default: 0.1")
    p.add_argument("--show", type=_show_list, default=("shape",), metavar="LIST",
                   help="comma-separated subset of shape,data,grad to print in each tensor box "
                        "(default: shape); with grad, backward() runs first")
    p.add_argument("--collapse", nargs="?", const="all", default=None, metavar="SCOPES",
                   help="draw scopes as single boxes: all of them (no value) or a "
                        "comma-separated list such as l2,svm_loss")
    p.add_argument("--rankdir", choices=viz.RANKDIRS, default="TB",
                   help="layout direction (default: TB, inputs at the top, loss at the "
                        "bottom; LR runs left to right)")
    p.add_argument("--max-nodes", type=int, default=None, metavar="N",
                   help=f"draw at most N tensors (default: {viz.DEFAULT_MAX_NODES})")
    p.add_argument("-o", "--output", type=_output_path, default=Path("out/graph.svg"),
                   metavar="FILE", help="file to write; the suffix picks the format "
                   f"({', '.join(viz.FORMATS)}; default: out/graph.svg)")


def run(args: argparse.Namespace) -> int:
    collapse = None if args.collapse is None else (
        True if args.collapse == "all" else tuple(s for s in args.collapse.split(",") if s))
    try:
        make = mlp_loss if args.model == "mlp" else lecture_loss
        loss = args.loss or TrainConfig.for_dataset("digits", model=args.model).loss
        root = make(loss, args.regularizer, args.reg, args.beta)
        if "grad" in args.show:
            root.backward()
        path = viz.render(root, args.output, show=args.show, rankdir=args.rankdir,
                          max_nodes=args.max_nodes, collapse=collapse)
    except (ValueError, TypeError) as exc:  # e.g. --max-nodes 0, --collapse with a typo
        print(f"tinygrad-lc graph: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # GraphvizNotFoundError, or dot itself failed
        print(f"tinygrad-lc graph: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. -o /proc/x.svg, -o a_file/x.svg, a read-only folder
        print(f"tinygrad-lc graph: cannot write {args.output}: {_why(exc, args.output)}",
              file=sys.stderr)
        return 1
    print(path)
    return 0


def _why(exc: OSError, output: Path) -> str:
    """Why writing ``output`` failed: a file in place of one of its folders, or the OS's reason."""
    folder = next((p for p in output.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    return exc.strerror or str(exc)


def _show_list(text: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in items if s not in viz.SHOW_OPTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {', '.join(unknown)}; choose from {','.join(viz.SHOW_OPTIONS)}")
    return items


def _output_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in viz.FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text!r} must end in one of {', '.join(viz.FORMATS)} (the suffix picks the format)")
    return path


# ---------------------------------------------------------------------- the docs' images
def refresh_docs(markdown: str | Path | None = None) -> None:
    """Run the python blocks of ``docs/diagrams.md`` from the repository root (redraws docs/img)."""
    markdown = Path(markdown or Path(__file__).resolve().parents[2] / "docs" / "diagrams.md")
    if not markdown.is_file():
        raise FileNotFoundError(f"refresh_docs: no {markdown}; run this from a source checkout")
    old = os.getcwd()
    os.chdir(markdown.parent.parent)
    try:
        namespace: dict = {"__name__": "__docs__"}
        for block in python_blocks(markdown.read_text(encoding="utf-8")):
            # pad with newlines so a traceback's line number is the line in the page
            code = "\n" * (block.line - 1) + block.code
            exec(compile(code, str(markdown), "exec"), namespace)
    finally:
        os.chdir(old)


if __name__ == "__main__":
    parser = Parser(prog="python -m tinygrad_lc.cli.graph",
                                     description="Redraw the images of docs/diagrams.md.")
    parser.add_argument("--refresh-docs", action="store_true", required=True,
                        help="run the python blocks of docs/diagrams.md from the repo root")
    parser.parse_args()
    refresh_docs()
