"""What Jupyter shows: ``_repr_html_`` of tensors, classifiers, sweep results and reports.

Each view holds the fields a reader looks for, escapes every piece of text (a name holding
``<script>`` shows as text) and stays small however large the object: a tensor of a million
entries, a sweep of a thousand trials. IPython's own display formatter is asked, so these are
the views a notebook really shows.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from tinygrad_lc import Tensor
from tinygrad_lc.core.display import PREVIEW_CHARS
from tinygrad_lc.data import make_blobs
from tinygrad_lc.models import LinearClassifier, MLPClassifier
from tinygrad_lc.sweep import SweepResult
from tinygrad_lc.viz.report import Report

SCRIPT = "<script>alert('x')</script>"


def shown(obj) -> str:
    """The HTML Jupyter shows for ``obj`` (through IPython's formatter when installed)."""
    try:
        from IPython.core.formatters import DisplayFormatter
    except ImportError:  # pragma: no cover - IPython comes with the dev extra
        return obj._repr_html_()
    data, _ = DisplayFormatter().format(obj)
    return data["text/html"]


def cells(page: str) -> dict[str, str]:
    """The (header, value) rows of a fields table, unescaped, tags removed."""
    rows = re.findall(r"<th[^>]*>(.*?)</th><td[^>]*>(.*?)</td>", page, re.S)
    return {html.unescape(k): html.unescape(re.sub(r"<[^>]+>", "", v)) for k, v in rows}


def assert_escaped(page: str) -> None:
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page


# ---------------------------------------------------------------- tensors
def test_a_tensor_shows_shape_dtype_grad_flag_values_and_gradient():
    w = Tensor(np.array([[1.0, -2.0], [3.5, 0.25]], np.float32), requires_grad=True, name="W")
    y = (w * w).sum()
    y.backward()
    got = cells(shown(w))
    assert got["shape"] == "(2, 2)" and got["dtype"] == "float32"
    assert got["requires_grad"] == "True" and got["op"] == "(leaf)" and got["name"] == "W"
    assert got["values"] == "[[ 1.  , -2.  ],\n [ 3.5 ,  0.25]]"
    assert got["grad"] == "[[ 2. , -4. ],\n [ 7. ,  0.5]]"
    assert got[""] == "min -2  mean 0.6875  max 3.5"
    node = cells(shown(y))
    assert node["op"] == "sum" and node["shape"] == "()" and node["grad"] == "1."
    assert cells(shown(Tensor([1.0])))["grad"] == "None"


def test_a_tensor_name_holding_a_script_is_shown_as_text():
    page = shown(Tensor([1.0], name=SCRIPT))
    assert_escaped(page)
    assert cells(page)["name"] == SCRIPT


@pytest.mark.parametrize("shape", [(10 ** 6,), (1000, 1000), (10,) * 6, (2,) * 20])
def test_a_tensor_of_a_million_entries_has_a_small_view(shape):
    t = Tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape), requires_grad=True,
               name="x" * 10 ** 5)
    t.sum().backward()
    page = shown(t)
    assert len(page) < 2 * PREVIEW_CHARS + 2000
    got = cells(page)
    assert got["shape"] == str(shape) and got[""].startswith("min 0  mean 5")
    assert "..." in got["values"] and "..." in got["grad"]
    assert got["name"].endswith("… (100,000 characters)")


def test_the_text_repr_is_bounded_for_many_axes_too():
    # NumPy's own summary shows every entry of a (2,) * 20 array: 2**20 of them
    text = repr(Tensor(np.zeros((2,) * 20), requires_grad=True))
    assert text.startswith("Tensor([0., 0., 0., ..., 0., 0., 0.]  (flattened; shape (2, 2,")
    assert text.endswith(", requires_grad=True)") and len(text) < 200


# ---------------------------------------------------------------- classifiers
def test_a_linear_classifier_shows_its_settings_and_training():
    X, y = make_blobs(30, seed=0)
    model = LinearClassifier(2, 3, loss="softmax", reg=1e-3, dtype=np.float32, seed=0)
    assert repr(model) == ("LinearClassifier(num_features=2, num_classes=3, loss='softmax', "
                           "reg=0.001, dtype=np.float32)")
    before = cells(shown(model))
    assert before["trained"] == "not yet"
    model.fit(X, y, lr=0.1, num_iters=7, batch_size=10)
    got = cells(shown(model))
    assert {k: got[k] for k in ("num_features", "num_classes", "loss", "reg", "regularizer",
                                "bias", "dtype", "trained", "W")} == {
        "num_features": "2", "num_classes": "3", "loss": "'softmax'", "reg": "0.001",
        "regularizer": "'l2'", "bias": "True", "dtype": "np.float32", "trained": "7 steps",
        "W": "shape (2, 3), float32"}


def test_a_two_layer_net_shows_its_settings_and_last_epoch():
    X, y = make_blobs(30, seed=0)
    model = MLPClassifier(2, 3, hidden=(8,), optimizer="adam", seed=0)
    assert repr(model) == ("MLPClassifier(num_features=2, num_classes=3, hidden=(8,), "
                           "optimizer='adam')")
    model.fit(X, y, lr=1e-2, num_iters=18, batch_size=10, X_val=X, y_val=y)  # 2 epochs of 90
    got = cells(shown(model))
    assert got["hidden"] == "(8,)" and got["optimizer"] == "'adam'" and got["trained"] == \
        "18 steps"
    assert got["last epoch"].startswith("2: loss ") and "val accuracy" in got["last epoch"]


# ---------------------------------------------------------------- sweeps and reports
def trial(i: int, val: float | None, status: str = "ok") -> dict:
    return {"trial": i, "config": {"lr": i / 1000, "reg": SCRIPT}, "status": status,
            "train_accuracy": val, "val_accuracy": val, "final_loss": 1.0, "seconds": 0.5,
            "error": None}


def test_a_sweep_result_shows_the_best_trial_and_a_bounded_table():
    trials = [trial(i, i / 1000) for i in range(1000)] + [trial(1000, None, "failed")]
    for t in trials[:-1]:
        t["config"]["reg"] = 0.5  # only lr varies among the first
    trials[-1]["config"]["reg"] = SCRIPT
    result = SweepResult(trials=trials, dataset=SCRIPT, workers=2, seconds=12.0,
                         warnings=[f"edge {SCRIPT}"])
    page = shown(result)
    assert_escaped(page)
    got = cells(page)
    assert got["dataset"] == SCRIPT and got["trials"] == "1001 (1 failed, 1000 ok)"
    assert got["best"].startswith("trial 999: val accuracy 0.9990 with lr=0.999, reg=0.5")
    assert page.count("<tr>") - len(got) == 21  # header + the 20 best trials
    assert "... and 981 more" in page and len(page) < 20_000


def test_a_report_shows_in_a_frame_of_its_own():
    r = Report(f"Run {SCRIPT}")
    r.section("Numbers")
    r.paragraph(f"a note {SCRIPT}")
    r.table(["model", "acc"], [["svm", 0.9]])
    page = shown(r)
    assert page.startswith("<iframe") and page.endswith("</iframe>")
    assert_escaped(page)
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert html.unescape(srcdoc) == r.to_html()  # the whole page, style sheet included

