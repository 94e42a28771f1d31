"""The options of `tinygrad-lc train` for the two-layer net (``--model mlp``) and its picture.

``--hidden``, ``--optimizer`` and ``--lr-decay`` are added to the train parser here; the
checks of their combinations, and the first layer's weights as images, live here too.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from tinygrad_lc.models.mlp import OPTIMIZERS
from tinygrad_lc.models.training import MLP_DEFAULTS


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


def _defaults(key: str) -> str:
    def show(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}"
    return ", ".join(f"{show(d[key])} for {name}" for name, d in MLP_DEFAULTS.items())


def add_mlp_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hidden", type=hidden_sizes, metavar="H[,H2...]",
                   help=f"mlp: hidden layer widths ({_defaults('hidden')})")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="sgd, momentum (SGD with --momentum, default 0.9) or adam (mlp only) "
                        "(default: sgd; mlp: adam)")
    p.add_argument("--lr-decay", type=float, metavar="F",
                   help="multiply the learning rate by F after every epoch "
                        f"(default: 1; mlp: {_defaults('lr_decay')})")
    p.epilog = (p.epilog or "") + (
        " With --model mlp each pixel is also divided by its standard deviation; the MLP's "
        f"defaults are lr {_defaults('lr')}, reg {_defaults('reg')} (on the weight matrices, "
        f"not the biases), iters {_defaults('iters')}, batch {_defaults('batch_size')}.")


def check_mlp_options(cfg: Any, args: argparse.Namespace) -> list[tuple[bool, str]]:
    """(condition, message) pairs for train's usage checks: each message when it is False."""
    mlp = cfg.model == "mlp"
    return [
        (math.isfinite(cfg.lr_decay) and cfg.lr_decay > 0,
         f"--lr-decay must be > 0 and finite, got {cfg.lr_decay:g}"),
        (mlp or args.hidden is None, "--hidden needs --model mlp (the linear model has no "
                                     "hidden layer)"),
        (mlp or cfg.optimizer != "adam", "--optimizer adam needs --model mlp; the linear model "
                                         "trains with sgd or momentum"),
        (not mlp or cfg.regularizer == "l2", f"--model mlp penalizes the weights with l2 only, "
                                             f"got --regularizer {cfg.regularizer}"),
        (not mlp or cfg.momentum == 0 or cfg.optimizer == "momentum",
         f"--momentum needs --optimizer momentum with --model mlp (got --optimizer "
         f"{cfg.optimizer})"),
    ]


def plot_mlp_weights(model: Any, data: Any, path: Path) -> list[Path]:
    """The first layer's weights, one image per hidden unit; nothing for data without images."""
    from tinygrad_lc.viz import plots

    if data.image_shape is None:
        return []
    W = model.net[0].W.data
    return [plots.plot_weight_grid(
        W, data.image_shape, path, bias_row=True,
        title=f"First layer (W1) of the net {'-'.join(map(str, model.net.sizes))} on "
              f"{data.name}: {W.shape[1]} hidden units")]
