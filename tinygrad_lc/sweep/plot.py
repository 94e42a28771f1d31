"""``sweep.png``: the cs231n picture of a sweep, learning rate against regularization.

Two panels with log10 learning rate on x and log10 regularization strength on y, one point
per trial coloured by its training accuracy (left) and its validation accuracy (right), each
with a colour bar; the best trial (by validation accuracy) is ringed in red, and trials that
diverged or failed are grey crosses.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_lc.util.atomic import atomic_write
from tinygrad_lc.viz.plots import pyplot

__all__ = ["plot_sweep"]


def _axis(trials: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, str]:
    values = np.array([float(t["config"].get(key, math.nan)) for t in trials])
    if np.all(values[np.isfinite(values)] > 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(values), f"log10 {key}"
    return values, key  # reg 0 in some trials: a plain axis


def plot_sweep(trials: Sequence[Mapping[str, Any]], path: str | os.PathLike[str],
               title: str = "Sweep", x: str = "lr", y: str = "reg") -> Path:
    """Draw ``trials`` (records of ``run_sweep``) to ``path`` (PNG, SVG, ... by suffix).

    Options missing from a trial's config (not swept and not in ``base``) are drawn at
    NaN, that is not at all; pass records whose config holds ``x`` and ``y``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> trials = [{"trial": i, "status": "ok", "config": {"lr": 10.0 ** -i, "reg": 0.1 * i + 0.1},
    ...            "train_accuracy": 0.5 + i / 10, "val_accuracy": 0.4 + i / 10}
    ...           for i in range(4)]
    >>> plot_sweep(trials, pathlib.Path(tempfile.mkdtemp()) / "sweep.png").name
    'sweep.png'
    """

    if not trials:
        raise ValueError("plot_sweep: no trials to draw")
    plt = pyplot()
    xs, x_label = _axis(trials, x)
    ys, y_label = _axis(trials, y)
    ok = np.array([t["status"] == "ok" and t.get("val_accuracy") is not None for t in trials])
    ranked = [int(i) for i in np.flatnonzero(ok)]
    best = max(ranked, key=lambda i: (trials[i]["val_accuracy"], -trials[i]["trial"])) \
        if ranked else None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    for ax, key, name in zip(axes, ("train_accuracy", "val_accuracy"),
                             ("training accuracy", "validation accuracy")):
        colour = np.array([t.get(key) if t.get(key) is not None else np.nan for t in trials],
                          dtype=float)
        points = ax.scatter(xs[ok], ys[ok], c=colour[ok], cmap="viridis", s=60,
                            edgecolors="k", linewidths=0.4)
        fig.colorbar(points, ax=ax, label=name)
        if (~ok).any():
            ax.scatter(xs[~ok], ys[~ok], marker="x", c="0.55", s=40, label="diverged / failed")
        if best is not None:
            ax.scatter([xs[best]], [ys[best]], s=260, facecolors="none", edgecolors="red",
                       linewidths=2.0, label=f"best: val {trials[best]['val_accuracy']:.3f}")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=100,
                    bbox_inches="tight")
    finally:
        plt.close(fig)
    return atomic_write(path, buffer.getvalue())  # a reader never sees half a picture
