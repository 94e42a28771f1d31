"""Tests for tinygrad_lc.viz.plots: templates are exact, pictures are valid PNGs of fair size."""

from __future__ import annotations

import io
import struct
import sys

import numpy as np
import pytest

from tinygrad_lc.viz import plots

pytest.importorskip("matplotlib")


def png_size(path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_templates_drop_the_bias_row_and_rescale_each_class():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3 * 4 * 2 + 1, 5))
    T = plots.weight_templates(W, (3, 4, 2))
    assert T.shape == (5, 3, 4, 2) and T.dtype == np.uint8
    for c in range(5):
        assert T[c].min() == 0 and T[c].max() == 255
        col = W[:-1, c]
        expected = np.round(255 * (col - col.min()) / (col.max() - col.min()))
        np.testing.assert_array_equal(T[c].ravel(), expected)  # C order, like the images
    np.testing.assert_array_equal(plots.weight_templates(W[:-1], (3, 4, 2), bias_row=False), T)


def test_constant_template_is_black_not_nan():
    assert plots.weight_templates(np.ones((5, 2)), (2, 2)).max() == 0


def test_template_shape_errors():
    with pytest.raises(ValueError, match=r"W has 64 rows after dropping the bias row, but images "
                                         r"of shape \(32, 32, 3\) have 3072 pixels"):
        plots.weight_templates(np.zeros((65, 10)), (32, 32, 3))
    with pytest.raises(ValueError, match="must be 2-D"):
        plots.weight_templates(np.zeros(65), (8, 8))


def test_pictures_are_pngs(tmp_path):
    rng = np.random.default_rng(0)
    loss = plots.plot_loss_curves({"svm": 3 * np.exp(-np.arange(200) / 50), "softmax": [2, 1]},
                                  tmp_path / "a" / "loss.png")
    w, h = png_size(loss)
    assert w > 300 and h > 200
    gray = plots.plot_weight_templates(rng.standard_normal((65, 10)), (8, 8), list("0123456789"),
                                       tmp_path / "digits.png")
    rgb = plots.plot_weight_templates(rng.standard_normal((3073, 3)), (32, 32, 3),
                                      ["cat", "car", "frog"], tmp_path / "rgb.png")
    assert png_size(gray)[0] > 5 * png_size(gray)[1] / 2  # one row of ten small images
    assert png_size(rgb)[0] > 0
    X = np.column_stack([rng.standard_normal((30, 2)), np.ones(30)])
    regions = plots.plot_decision_regions(rng.standard_normal((3, 3)), X, np.arange(30) % 3,
                                          ["a", "b", "c"], tmp_path / "regions.png")
    assert png_size(regions)[0] > 200


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        plots.plot_weight_templates(np.zeros((5, 3)), (2, 2), ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"X \(N, 3\) and W \(3, C\)"):
        plots.plot_decision_regions(np.zeros((4, 3)), np.zeros((5, 4)), np.zeros(5, int),
                                    "abc", tmp_path / "x.png")


def test_missing_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_lc\[demo\]'"):
        plots.plot_loss_curves({"svm": [1.0]}, tmp_path / "loss.png")


def test_bad_loss_values_leave_no_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    with pytest.raises(ValueError):
        plots.plot_loss_curves({"ok": [1.0, 2.0], "bad": ["not", "a number"]},
                               tmp_path / "loss.png")
    assert plt.get_fignums() == before and not (tmp_path / "loss.png").exists()


# ---------------------------------------------------------------------- one loss-curve style
def _spy_on_loss_pictures(monkeypatch) -> dict:
    """Record, for every loss.png written, each axes' y scale and its lines' alphas."""
    from pathlib import Path

    seen, real = {}, plots._save

    def spy(fig, path):
        if Path(path).name == "loss.png":
            seen[Path(path).parent.name] = [(ax.get_yscale(), [line.get_alpha()
                                                               for line in ax.get_lines()])
                                            for ax in fig.axes]
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", spy)
    return seen


def _raw_and_smoothed(alphas: list, curves: int) -> bool:
    """Two lines per curve: the raw one faint (alpha < 1), the smoothed one solid."""
    raw, smooth = alphas[0::2], alphas[1::2]
    return len(alphas) == 2 * curves and all(a is not None and a < 1 for a in raw) \
        and all(a is None or a == 1 for a in smooth)


def test_train_sweep_and_demo_draw_the_same_log_scale_loss_curves(monkeypatch, tmp_path, capsys):
    from tinygrad_lc import cli, viz
    from tinygrad_lc.cli import demo

    seen = _spy_on_loss_pictures(monkeypatch)
    assert cli.main(["train", "--dataset", "digits", "--iters", "30", "--quiet",
                     "--out", str(tmp_path / "train")]) == 0
    assert cli.main(["sweep", "--dataset", "blobs", "--iters", "20", "--trials", "2", "--refine",
                     "0", "--workers", "0", "--quiet", "--out", str(tmp_path / "sweep")]) == 0

    def no_dot(root, path, **kw):
        raise viz.GraphvizNotFoundError("render: Graphviz's `dot` program is not on PATH")

    monkeypatch.setattr(viz, "render", no_dot)
    monkeypatch.setattr(demo, "sweep_section", lambda *args, **kw: None)
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--iters", "30",
                     "--search-tries", "3", "--quiet"]) == 0
    capsys.readouterr()
    assert set(seen) == {"train", "best", "demo"}
    for name, curves in (("train", 1), ("best", 1), ("demo", 2)):
        [(scale, alphas)] = seen[name]
        assert scale == "log", name
        assert _raw_and_smoothed(alphas, curves), (name, alphas)


def test_losses_that_reach_zero_or_below_still_draw(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        plots.draw_loss_curves(ax, {"hinge": [2.0, 1.0, 0.5, 0.0, 0.0], "odd": [1.0, -0.5, 0.1]})
        assert ax.get_yscale() == "symlog"
        assert "0 or below" in ax.get_title()
        assert len(ax.get_lines()) == 4
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:  # a diverged run: inf and NaN are left out, the finite losses still on a log axis
        plots.draw_loss_curves(ax, {"diverged": [3.0, 2.0, float("inf"), float("nan")]})
        assert ax.get_yscale() == "log"
    finally:
        plt.close(fig)
    for curves in ({"zero": [0.0, 0.0]}, {"empty": []}, {"neg": [-1.0, -2.0]}):
        assert png_size(plots.plot_loss_curves(curves, tmp_path / "loss.png"))[0] > 300


# ---------------------------------------------------------------------- atomic pictures
def _draw_all(folder) -> list:
    """Every kind of picture, written into ``folder`` (loss, weights, regions, grid)."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal((30, 2)), np.ones(30)])
    return [
        plots.plot_loss_curves({"svm": [3.0, 2.0, 1.0]}, folder / "loss.png"),
        plots.plot_weight_templates(rng.standard_normal((65, 3)), (8, 8), ["a", "b", "c"],
                                    folder / "weights.png"),
        plots.plot_decision_regions(rng.standard_normal((3, 3)), X, np.arange(30) % 3,
                                    ["a", "b", "c"], folder / "regions.png"),
        plots.plot_weight_grid(rng.standard_normal((65, 4)), (8, 8), folder / "grid.png"),
    ]


def test_a_symlink_planted_at_a_picture_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o600)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("loss.png", "weights.png", "regions.png", "grid.png"):
        (out / name).symlink_to(victim)
    for path in _draw_all(out):
        assert not path.is_symlink() and png_size(path)[0] > 0, path
    assert victim.read_text() == "keep me"


def test_a_crash_while_drawing_leaves_the_old_picture_whole(tmp_path, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    out = tmp_path / "out"
    before = {p.name: p.read_bytes() for p in _draw_all(out)}

    real = FigureCanvasAgg.print_png

    def crash(self, target, **kw):
        if isinstance(target, io.BytesIO):  # matplotlib's dry run for bbox_inches="tight"
            return real(self, target, **{k: kw[k] for k in ("metadata", "pil_kwargs") if k in kw})
        # half a PNG into the output, then the process "dies"
        data = b"\x89PNG\r\n\x1a\n half of a picture"
        if hasattr(target, "write"):
            target.write(data)
        else:
            with open(target, "wb") as f:
                f.write(data)
        raise KeyboardInterrupt

    monkeypatch.setattr(FigureCanvasAgg, "print_png", crash)
    with pytest.raises(KeyboardInterrupt):
        _draw_all(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp file either


def test_train_and_the_sweeps_best_write_their_pictures_through_no_symlink(tmp_path, capsys):
    from tinygrad_lc import cli

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    train, sweep = tmp_path / "train", tmp_path / "sweep"
    for folder in (train, sweep / "best"):
        folder.mkdir(parents=True)
        for name in ("loss.png", "weights.png"):
            (folder / name).symlink_to(victim)
    assert cli.main(["train", "--dataset", "blobs", "--iters", "20", "--quiet",
                     "--out", str(train)]) == 0
    assert cli.main(["sweep", "--dataset", "blobs", "--iters", "20", "--trials", "2", "--refine",
                     "0", "--workers", "0", "--quiet", "--out", str(sweep)]) == 0
    capsys.readouterr()
    for folder in (train, sweep / "best"):
        for name in ("loss.png", "weights.png"):
            assert not (folder / name).is_symlink() and png_size(folder / name)[0] > 0
    assert victim.read_text() == "keep me"
