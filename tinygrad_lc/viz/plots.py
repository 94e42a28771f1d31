"""Training pictures with matplotlib: loss curves, weight templates, 2-D decision regions.

matplotlib comes with the ``demo`` extra (``pip install 'tinygrad_lc[demo]'``) and is imported
only when a picture is drawn, with the non-interactive Agg backend, so training works on a
machine without a display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_lc.util.atomic import atomic_open

__all__ = ["draw_loss_curves", "plot_decision_regions", "plot_loss_curves",
           "plot_weight_grid", "plot_weight_templates", "weight_grid", "weight_templates"]


def pyplot() -> Any:
    try:
        # matplotlib is optional (the demo extra) and slow to import: only when drawing
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "drawing plots needs matplotlib, which is not installed; install it with "
            "pip install 'tinygrad_lc[demo]'"
        ) from exc
    matplotlib.use("Agg", force=True)  # files only: no display needed, no window opened
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` atomically (``util.atomic``): a crash or an error while
    drawing leaves the old picture or none, never half of one, and a symlink planted at
    ``path`` is replaced, not followed. The suffix names the format (png by default)."""
    plt = pyplot()
    path = Path(path)
    try:
        with atomic_open(path) as f:
            fig.savefig(f, format=path.suffix[1:].lower() or "png", dpi=100,
                        bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (shorter windows at the start), same length as ``values``."""
    c = np.cumsum(np.insert(values, 0, 0.0))
    k = np.arange(1, len(values) + 1)
    lo = np.maximum(0, k - window)
    return (c[k] - c[lo]) / (k - lo)


def draw_loss_curves(ax: Any, curves: Mapping[str, Sequence[float] | np.ndarray],
                     title: str = "Training loss") -> None:
    """Draw loss histories on ``ax`` in the one loss-curve style of every picture.

    Each curve is drawn twice in its colour: the raw loss of every step, faint, and its
    trailing moving average (a window of 1/50 of the run), solid. The y axis is logarithmic,
    so the fall of the first steps and the slow progress after them both show. Losses of 0 or
    below have no place on a log axis: when a curve has any, the axis is symlog instead
    (linear below the 10th percentile of the positive losses) and the title says so. inf and
    NaN (a diverged run) are left out of the picture.

    ``train``'s and the sweep's ``loss.png`` and the demo's come from here (through
    :func:`plot_loss_curves`); in a notebook, draw on your own axes:

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> draw_loss_curves(ax, {"svm": [3.0, 2.0, 1.5]})
    >>> ax.get_yscale(), len(ax.get_lines())
    ('log', 2)
    >>> plt.close(fig)
    """
    # convert before drawing: a bad curve must not leave half a picture
    arrays = {label: np.asarray(values, dtype=np.float64) for label, values in curves.items()}
    for i, (label, values) in enumerate(arrays.items()):
        steps = np.arange(1, len(values) + 1)
        color = f"C{i}"
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
        window = max(1, len(values) // 50)
        ax.plot(steps, _smooth(values, window), color=color, linewidth=1.8,
                label=f"{label} (moving average of {window})" if window > 1 else label)
    finite = np.concatenate([v[np.isfinite(v)] for v in arrays.values()] or [np.zeros(0)])
    positive = finite[finite > 0]
    if finite.size and positive.size == finite.size:
        ax.set_yscale("log")
        scale = "log scale"
    else:  # symlog: linear between -linthresh and linthresh, logarithmic outside
        # linear under the lowest tenth of the positive losses: the zeros of a hinge loss
        # then sit just below the curve instead of decades under it
        linthresh = float(np.percentile(positive, 10)) if positive.size else 1.0
        ax.set_yscale("symlog", linthresh=linthresh)
        scale = "symlog scale"
        title = f"{title}\n(some losses are 0 or below: symlog, linear below {linthresh:.2g})"
    ax.set_xlabel("step (minibatch)")
    ax.set_ylabel(f"loss (data + regularization), {scale}")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()


def plot_loss_curves(curves: dict[str, Sequence[float]], path: str | os.PathLike[str],
                     title: str = "Training loss") -> Path:
    """Draw :func:`draw_loss_curves` (raw faint, smoothed solid, log y axis) to ``path``.

    Examples
    --------
    >>> import tempfile
    >>> path = plot_loss_curves({"svm": [3.0, 2.0, 1.5]}, tempfile.mkdtemp() + "/loss.png")
    >>> path.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    plt = pyplot()
    # convert before opening the figure: a bad curve must not leave a figure open
    arrays = {label: np.asarray(values, dtype=np.float64) for label, values in curves.items()}
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    try:
        draw_loss_curves(ax, arrays, title)
    except BaseException:
        plt.close(fig)
        raise
    return _save(fig, path)


def weight_templates(W: np.ndarray, image_shape: tuple[int, ...], bias_row: bool = True
                     ) -> np.ndarray:
    """Each class's weights as a uint8 image: drop the bias row, reshape, rescale to 0..255.

    Each template is rescaled by its own minimum and maximum, as in the lecture's pictures.

    Parameters
    ----------
    W : ndarray, shape (D, C) or (D + 1, C)
        One column per class.
    image_shape : tuple
        e.g. (8, 8) for digits or (32, 32, 3) for CIFAR-10; its size must be D.
    bias_row : bool
        Whether the last row of W is the bias (the bias trick) and is dropped.

    Returns
    -------
    ndarray of uint8, shape (C, *image_shape)

    Examples
    --------
    >>> W = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, -1.0], [3.0, 2.0], [9.0, 9.0]])
    >>> weight_templates(W, (2, 2))[0]
    array([[  0,  85],
           [170, 255]], dtype=uint8)
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"weight_templates: W must be 2-D (D, C), got shape {W.shape}")
    pixels = W[:-1] if bias_row else W
    size = int(np.prod(image_shape))
    if pixels.shape[0] != size:
        extra = " after dropping the bias row" if bias_row else ""
        raise ValueError(f"weight_templates: W has {pixels.shape[0]} rows{extra}, but images of "
                         f"shape {tuple(image_shape)} have {size} pixels")
    T = pixels.T.reshape(-1, *image_shape)
    axes = tuple(range(1, T.ndim))
    lo, hi = T.min(axis=axes, keepdims=True), T.max(axis=axes, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)  # a constant template becomes black, not NaN
    return np.round(255.0 * (T - lo) / span).astype(np.uint8)


def plot_weight_templates(W: np.ndarray, image_shape: tuple[int, ...],
                          class_names: Sequence[str], path: str | os.PathLike[str],
                          title: str = "Learned weights as class templates",
                          bias_row: bool = True) -> Path:
    """Draw :func:`weight_templates` side by side, one small image per class, to ``path``."""
    plt = pyplot()
    T = weight_templates(W, image_shape, bias_row)
    n = len(T)
    if len(class_names) != n:
        raise ValueError(f"plot_weight_templates: {len(class_names)} class names for {n} classes")
    fig, axes = plt.subplots(1, n, figsize=(1.2 * n, 1.7), squeeze=False)
    for ax, img, name in zip(axes[0], T, class_names):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_title(str(name), fontsize=10)
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def weight_grid(W: np.ndarray, image_shape: tuple[int, ...], bias_row: bool = True,
                columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Every column of W as an image (see :func:`weight_templates`), tiled into one uint8
    picture with ``pad`` white pixels between tiles: e.g. a first layer's hidden units.

    >>> weight_grid(np.arange(12.0).reshape(4, 3), (2, 2), bias_row=False, columns=2).shape
    (5, 5)
    """
    T = weight_templates(W, image_shape, bias_row)
    n, h, w = T.shape[0], image_shape[0], image_shape[1]
    cols = columns or int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *T.shape[3:]), 255, np.uint8)
    for k, img in enumerate(T):
        r, c = divmod(k, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


def plot_weight_grid(W: np.ndarray, image_shape: tuple[int, ...], path: str | os.PathLike[str],
                     title: str = "Learned weights", bias_row: bool = True) -> Path:
    """Draw :func:`weight_grid` (one tile per column of W) to ``path``."""
    plt = pyplot()
    grid = weight_grid(W, image_shape, bias_row)
    fig, ax = plt.subplots(figsize=(7, 7 * grid.shape[0] / grid.shape[1] + 0.4))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def plot_decision_regions(W: np.ndarray, X: np.ndarray, y: np.ndarray,
                          class_names: Sequence[str], path: str | os.PathLike[str],
                          title: str = "Decision regions and weight vectors") -> Path:
    """For 2-D data with the bias trick (X of shape (N, 3), W of (3, C)): draw the regions
    where each class scores highest, the points, and each class's weight vector as an arrow.
    """
    plt = pyplot()
    W, X = np.asarray(W, dtype=np.float64), np.asarray(X, dtype=np.float64)
    if W.shape[0] != 3 or X.ndim != 2 or X.shape[1] != 3:
        raise ValueError(f"plot_decision_regions: expected 2-D points with the bias column, X "
                         f"(N, 3) and W (3, C), got X {X.shape} and W {W.shape}")
    pad = 0.1 * (X[:, :2].max(axis=0) - X[:, :2].min(axis=0)) + 1e-9
    lo, hi = X[:, :2].min(axis=0) - pad, X[:, :2].max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    region = (grid @ W).argmax(axis=1).reshape(gx.shape)
    C = W.shape[1]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    colors = [f"C{c}" for c in range(C)]
    # matplotlib: see pyplot()
    from matplotlib.colors import ListedColormap

    ax.contourf(gx, gy, region, levels=np.arange(C + 1) - 0.5, cmap=ListedColormap(colors),
                alpha=0.18)
    for c in range(C):
        pts = X[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=10, color=colors[c], label=str(class_names[c]))
    # arrows from the data's center: w_c points where class c's score grows fastest
    scale = 0.4 * float(np.min(hi - lo)) / (np.abs(W[:2]).max() + 1e-12)
    ax.quiver(np.zeros(C), np.zeros(C), scale * W[0], scale * W[1], color=colors,
              angles="xy", scale_units="xy", scale=1.0, width=0.012, edgecolor="black",
              linewidth=0.8, zorder=5)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1 (mean subtracted)")
    ax.set_ylabel("x2 (mean subtracted)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)
